"""Pure rendering of the sign-in screen: message, code, URLs, QR code, time left, poll state.

Nothing here writes to a terminal or reads a clock: every function takes the values it shows
(including ``now``) and returns strings, so the screen is tested by comparing fixed-width text.
The live part of ``deviceflow login`` prints :func:`render_panel` once and then rewrites the single
:func:`render_status` line in place; off a terminal it prints :func:`render_plain` once.

QR codes are drawn from a module matrix (``True`` = dark module, quiet zone included):

- ``unicode``: two module rows per text row with the half blocks ``▀ ▄ █``. Terminals are
  usually light-on-dark, so by default the *light* modules are drawn (foreground) and the dark
  ones left blank (background); ``invert`` draws the dark modules instead, for light themes.
- ``ascii``: for streams that cannot encode the blocks, ``##`` per drawn module, one text row
  per module row.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "LoginScreen",
    "PollStatus",
    "format_remaining",
    "render_panel",
    "render_plain",
    "render_qr",
    "render_status",
]

Matrix = Sequence[Sequence[bool]]

_HALF_BLOCKS = {
    (False, False): " ",
    (True, False): "\u2580",  # upper half block
    (False, True): "\u2584",  # lower half block
    (True, True): "\u2588",  # full block
}


@dataclass(frozen=True)
class LoginScreen:
    """What the server told us to show (from a ``DeviceCodeIssued`` event).

    Attributes:
        user_code: the code the user types (always shown, RFC 8628 §3.3.1).
        verification_uri: where to type it.
        verification_uri_complete: a link that carries the code, when the server sends one.
        message: the server's own instructions (Microsoft sends one), if any.
        expires_at: when the code expires, on the same clock as the ``now`` given to renderers.
        interval: the polling interval in seconds.
    """

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    message: str | None
    expires_at: float
    interval: float

    @property
    def qr_target(self) -> str:
        """The URL the QR code encodes: the complete URI when there is one."""
        return self.verification_uri_complete or self.verification_uri


@dataclass(frozen=True)
class PollStatus:
    """Where polling stands.

    Attributes:
        state: ``"waiting"``, ``"pending"``, ``"slow_down"``, ``"retrying"`` or ``"done"``.
        interval: the current polling interval in seconds.
        attempt: for ``retrying``, how many attempts failed in a row.
        reason: for ``retrying``, a short reason (``"HTTP 503"``, ``"connection refused"``).
    """

    state: str = "waiting"
    interval: float = 5.0
    attempt: int = 0
    reason: str | None = None


def format_remaining(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a number of seconds left; ``0:00`` once expired."""
    total = max(0, int(seconds + 0.999))  # round up: "0:00" only when really expired
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def render_qr(matrix: Matrix, *, style: str = "unicode", invert: bool = False) -> list[str]:
    """Draw a QR module matrix as text lines.

    Args:
        matrix: rows of modules, ``True`` for dark, quiet zone included.
        style: ``"unicode"`` (half blocks) or ``"ascii"`` (``##``).
        invert: draw dark modules instead of light ones (for light terminal backgrounds).

    Returns:
        The lines, without trailing newlines.

    Raises:
        ValueError: unknown ``style``.
    """
    drawn = [[bool(m) == invert for m in row] for row in matrix]
    if style == "ascii":
        return ["".join("##" if m else "  " for m in row) for row in drawn]
    if style != "unicode":
        raise ValueError(f"unknown QR style {style!r}")
    lines = []
    for top in range(0, len(drawn), 2):
        upper = drawn[top]
        lower = drawn[top + 1] if top + 1 < len(drawn) else [False] * len(upper)
        lines.append("".join(_HALF_BLOCKS[(a, b)] for a, b in zip(upper, lower, strict=True)))
    return lines


def _default_message(screen: LoginScreen) -> str:
    return (
        f"To sign in, open {screen.verification_uri} in a web browser "
        f"and enter the code {screen.user_code}."
    )


def render_panel(
    screen: LoginScreen,
    *,
    qr: Sequence[str] = (),
    qr_note: str | None = None,
    width: int = 80,
) -> str:
    """The static part of the interactive sign-in screen.

    Args:
        screen: what to show.
        qr: pre-rendered QR lines (see :func:`render_qr`); empty for none.
        qr_note: a one-line note shown instead of (or below) the QR, such as an install hint.
        width: wrap the message to this many columns.

    Returns:
        The text, ending with a newline.

    Raises:
        Nothing.
    """
    message = screen.message or _default_message(screen)
    lines = textwrap.wrap(message, width=max(20, width)) or [""]
    lines.append("")
    lines.append(f"  Code:  {screen.user_code}")
    lines.append(f"  URL:   {screen.verification_uri}")
    if screen.verification_uri_complete:
        lines.append(
            f"  Or open this link, which carries the code: {screen.verification_uri_complete}"
        )
    if qr:
        lines.append("")
        lines.extend(line.rstrip() and f"  {line}" for line in qr)
    if qr_note:
        lines.append("")
        lines.append(f"  {qr_note}")
    lines.append("")
    return "\n".join(lines) + "\n"


def render_status(screen: LoginScreen, status: PollStatus, *, now: float) -> str:
    """The one-line live status: time left and poll state (no newline).

    Raises:
        Nothing.
    """
    left = f"Code expires in {format_remaining(screen.expires_at - now)}"
    if status.state == "slow_down":
        state = f"server asked to slow down, polling every {status.interval:g} s"
    elif status.state == "retrying":
        reason = f" ({status.reason})" if status.reason else ""
        state = f"server unreachable{reason}, retrying (attempt {status.attempt})"
    elif status.state == "done":
        state = "approved"
    else:
        state = f"waiting for approval (checking every {status.interval:g} s)"
    return f"{left} \u00b7 {state}"


def render_plain(
    screen: LoginScreen,
    *,
    now: float,
    qr: Sequence[str] = (),
) -> str:
    """The non-terminal block, printed once: ``key: value`` lines a script can parse.

    Raises:
        Nothing.
    """
    lines = [
        f"message: {screen.message or _default_message(screen)}",
        f"user_code: {screen.user_code}",
        f"verification_uri: {screen.verification_uri}",
    ]
    if screen.verification_uri_complete:
        lines.append(f"verification_uri_complete: {screen.verification_uri_complete}")
    lines.append(f"expires_in: {max(0, int(screen.expires_at - now))}")
    if qr:
        lines.append("qr:")
        lines.extend(qr)
    return "\n".join(lines) + "\n"
