from __future__ import annotations

import pytest

from deviceflow.cli.panel import (
    LoginScreen,
    PollStatus,
    format_remaining,
    render_panel,
    render_plain,
    render_qr,
    render_status,
)

SCREEN = LoginScreen(
    user_code="BCDF-GHJK",
    verification_uri="https://id.example/device",
    verification_uri_complete="https://id.example/device?user_code=BCDF-GHJK",
    message=None,
    expires_at=1900.0,
    interval=5.0,
)

MS_SCREEN = LoginScreen(
    user_code="FQK5HW3UF",
    verification_uri="https://microsoft.com/devicelogin",
    verification_uri_complete=None,
    message="To sign in, use a web browser to open the page https://microsoft.com/devicelogin "
    "and enter the code FQK5HW3UF to authenticate.",
    expires_at=1000.0,
    interval=5.0,
)

# A 3x3 "matrix" is enough to pin the glyph mapping: True = dark module.
TINY = ((True, False, True), (False, False, True), (True, True, False))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0:00"), (-5, "0:00"), (0.2, "0:01"), (59, "0:59"), (900, "15:00"), (3725, "1:02:05")],
)
def test_format_remaining(seconds: float, text: str) -> None:
    assert format_remaining(seconds) == text


def test_render_qr_unicode_draws_light_modules_by_default() -> None:
    assert render_qr(TINY) == ["\u2584\u2588 ", "  \u2580"]


def test_render_qr_unicode_inverted_draws_dark_modules() -> None:
    assert render_qr(TINY, invert=True) == ["\u2580 \u2588", "\u2580\u2580 "]


def test_render_qr_ascii_fallback() -> None:
    assert render_qr(TINY, style="ascii") == ["  ##  ", "####  ", "    ##"]
    assert render_qr(TINY, style="ascii", invert=True) == ["##  ##", "    ##", "####  "]


def test_render_qr_rejects_unknown_style() -> None:
    with pytest.raises(ValueError, match="unknown QR style"):
        render_qr(TINY, style="braille")


def test_render_panel_with_complete_uri_and_qr() -> None:
    text = render_panel(SCREEN, qr=["\u2588\u2580", "  "], width=60)
    assert text == (
        "To sign in, open https://id.example/device in a web browser\n"
        "and enter the code BCDF-GHJK.\n"
        "\n"
        "  Code:  BCDF-GHJK\n"
        "  URL:   https://id.example/device\n"
        "  Or open this link, which carries the code: "
        "https://id.example/device?user_code=BCDF-GHJK\n"
        "\n"
        "  \u2588\u2580\n"
        "\n"
        "\n"
    )


def test_render_panel_keeps_server_message_and_shows_install_note() -> None:
    text = render_panel(MS_SCREEN, qr_note="For a QR code, install it", width=80)
    assert text == (
        "To sign in, use a web browser to open the page https://microsoft.com/devicelogin\n"
        "and enter the code FQK5HW3UF to authenticate.\n"
        "\n"
        "  Code:  FQK5HW3UF\n"
        "  URL:   https://microsoft.com/devicelogin\n"
        "\n"
        "  For a QR code, install it\n"
        "\n"
    )


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (PollStatus(), "Code expires in 15:00 \u00b7 waiting for approval (checking every 5 s)"),
        (
            PollStatus(state="slow_down", interval=10),
            "Code expires in 15:00 \u00b7 server asked to slow down, polling every 10 s",
        ),
        (
            PollStatus(state="retrying", attempt=2, reason="HTTP 503"),
            "Code expires in 15:00 \u00b7 server unreachable (HTTP 503), retrying (attempt 2)",
        ),
        (
            PollStatus(state="retrying", attempt=1),
            "Code expires in 15:00 \u00b7 server unreachable, retrying (attempt 1)",
        ),
        (PollStatus(state="done"), "Code expires in 15:00 \u00b7 approved"),
    ],
)
def test_render_status(status: PollStatus, text: str) -> None:
    assert render_status(SCREEN, status, now=1000.0) == text


def test_render_plain_block_is_parseable() -> None:
    text = render_plain(SCREEN, now=1000.4)
    fields = dict(line.split(": ", 1) for line in text.splitlines())
    assert fields == {
        "message": "To sign in, open https://id.example/device in a web browser "
        "and enter the code BCDF-GHJK.",
        "user_code": "BCDF-GHJK",
        "verification_uri": "https://id.example/device",
        "verification_uri_complete": "https://id.example/device?user_code=BCDF-GHJK",
        "expires_in": "899",
    }


def test_render_plain_without_complete_uri_with_qr() -> None:
    text = render_plain(MS_SCREEN, now=2000.0, qr=["##", "  "])
    assert text.splitlines()[1:] == [
        "user_code: FQK5HW3UF",
        "verification_uri: https://microsoft.com/devicelogin",
        "expires_in: 0",
        "qr:",
        "##",
        "  ",
    ]


def test_qr_target_prefers_complete_uri() -> None:
    assert SCREEN.qr_target == "https://id.example/device?user_code=BCDF-GHJK"
    assert MS_SCREEN.qr_target == "https://microsoft.com/devicelogin"
