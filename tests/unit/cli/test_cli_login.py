from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cli.fakeidp import BASE, FakeIdP, Harness


def test_login_json_events_and_cache(tmp_path: Path) -> None:
    h = Harness(tmp_path, FakeIdP(["pending", "slow_down", "503", "ok"]))
    assert h.run("login", "--json") == 0, h.stderr.getvalue()
    events = h.events()
    assert [e["event"] for e in events] == ["code", "pending", "slow_down", "retrying", "signed_in"]
    assert events[0] == {
        "event": "code",
        "user_code": "BCDF-GHJK",
        "verification_uri": f"{BASE}/devicelogin",
        "verification_uri_complete": f"{BASE}/devicelogin?code=BCDF-GHJK",
        "expires_in": 900,
        "interval": 5,
        "message": "To sign in, open http://idp.test/devicelogin and enter the code BCDF-GHJK.",
    }
    assert events[2] == {"event": "slow_down", "interval": 10}
    assert events[3]["attempt"] == 1
    assert events[-1] == {
        "event": "signed_in",
        "name": "Adele Vance",
        "username": "adele@demo.example",
        "expires_on": int(h.now) + 3600,
    }
    # Human text went to stderr, as the plain block (not a terminal).
    assert "user_code: BCDF-GHJK" in h.stderr.getvalue()
    assert "Signed in as Adele Vance <adele@demo.example>." in h.stderr.getvalue()
    entry = h.cache().load("default")
    assert entry is not None
    assert entry.refresh_token == "refresh-1"
    assert entry.token_url == f"{BASE}/demo/oauth2/v2.0/token"
    assert entry.scopes == ("User.Read", "offline_access", "openid", "profile")
    # The device code never reaches any output.
    assert "dc-secret" not in h.stdout.getvalue() + h.stderr.getvalue()


def test_login_plain_block_on_stdout_when_not_a_terminal(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert h.run("login", "--no-qr") == 0
    out = h.stdout.getvalue()
    assert out.startswith("message: To sign in, open http://idp.test/devicelogin")
    assert "verification_uri_complete: http://idp.test/devicelogin?code=BCDF-GHJK\n" in out
    assert "\x1b" not in out and "qr:" not in out
    assert out.endswith("Signed in as Adele Vance <adele@demo.example>.\n")


def test_login_on_terminal_shows_panel_qr_and_live_status(tmp_path: Path) -> None:
    h = Harness(tmp_path, FakeIdP(["pending", "pending", "ok"]), tty=True)
    assert h.run("login") == 0
    out = h.stdout.getvalue()
    assert "  Code:  BCDF-GHJK\n" in out
    assert "\u2588" in out  # half-block QR on a UTF-8 terminal
    assert "\r\x1b[2KCode expires in 15:00 \u00b7 waiting for approval (checking every 5 s)" in out
    assert "Code expires in 14:5" in out  # the countdown moved while waiting
    assert out.endswith("\nSigned in as Adele Vance <adele@demo.example>.\n")


def test_login_qr_forced_off_terminal_uses_ascii_for_non_utf8(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert h.run("login", "--qr", "--qr-invert") == 0
    out = h.stdout.getvalue()
    assert "qr:\n" in out
    assert "##" in out and "\u2588" not in out


def test_login_writes_qr_file(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    target = tmp_path / "code.svg"
    assert h.run("login", "--qr-file", str(target), "--no-qr") == 0
    assert b"<svg" in target.read_bytes()


@pytest.mark.parametrize(
    ("script", "code", "error"),
    [
        (["pending", "denied"], 4, "access_denied"),
        (["expired"], 5, "expired_token"),
    ],
)
def test_login_failures_exit_with_codes_and_error_event(
    tmp_path: Path, script: list[str], code: int, error: str
) -> None:
    h = Harness(tmp_path, FakeIdP(script))
    assert h.run("login", "--json") == code
    last = h.events()[-1]
    assert last["event"] == "error"
    assert last["error"] == error
    assert f"{error} says the test" in h.stderr.getvalue()
    assert "Traceback" not in h.stderr.getvalue()
    assert h.cache().load("default") is None


def test_login_timeout_exits_5(tmp_path: Path) -> None:
    h = Harness(tmp_path, FakeIdP(["pending"] * 50))
    assert h.run("login", "--json", "--timeout", "12") == 5
    last = h.events()[-1]
    assert last == {
        "event": "error",
        "error": "timeout",
        "description": "nobody approved the sign-in within --timeout 12 s. Try again (and approve"
        " it sooner, or give a longer --timeout): deviceflow login",
    }


def test_login_without_client_id_is_usage_error(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    del h.environ["DEVICEFLOW_CLIENT_ID"]
    assert h.run("login") == 2
    assert "--client-id" in h.stderr.getvalue()


def test_login_with_issuer_discovers_and_handles_missing_interval(tmp_path: Path) -> None:
    idp = FakeIdP(["pending", "ok"])
    idp.interval = None
    idp.complete = False
    h = Harness(tmp_path, idp)
    del h.environ["DEVICEFLOW_AUTHORITY"]
    assert h.run("login", "--json", "--issuer", f"{BASE}/rfc") == 0
    code = h.events()[0]
    assert code["interval"] == 5  # RFC 8628 §3.5 default
    assert code["verification_uri_complete"] is None
    entry = h.cache().load("default")
    assert entry is not None and entry.revocation_url == f"{BASE}/rfc/revoke"
    assert entry.scopes == ("openid", "profile", "offline_access")


def test_login_network_failure_exits_6(tmp_path: Path) -> None:
    from deviceflow.core import HttpRequest, HttpResponse
    from deviceflow.errors import ConnectError

    def refuse(request: HttpRequest) -> HttpResponse:
        raise ConnectError("connection refused")

    h = Harness(tmp_path)
    h.transport.handler = refuse
    assert h.run("login", "--json") == 6
    assert h.events()[-1]["error"] == "network_error"


def test_login_debug_redacts_secrets(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert h.run("login", "--json", "--debug") == 0
    err = h.stderr.getvalue()
    assert "> POST http://idp.test/demo/oauth2/v2.0/devicecode" in err
    assert "< HTTP 200" in err
    assert "device_code=[redacted]" in err
    for secret in ("dc-secret", "access-1", "refresh-1"):
        assert secret not in err
