from __future__ import annotations

import io
import json

import pytest

from deviceflow.cli.debug import DebugTransport, redact_body, redact_headers, redact_url
from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.errors import ReadTimeoutError
from deviceflow.transports import MockTransport


def test_redact_url_hides_codes() -> None:
    assert redact_url("http://h/device?user_code=ABCD-EFGH&x=1") == (
        "http://h/device?user_code=[redacted]&x=1"
    )
    assert redact_url("http://h/devicelogin?code=ABCD") == "http://h/devicelogin?code=[redacted]"


def test_redact_headers_hides_authorization_and_cookies() -> None:
    headers = (("Authorization", "Bearer abc"), ("Set-Cookie", "s=1"), ("Accept", "*/*"))
    assert redact_headers(headers) == [
        "Authorization: [redacted]",
        "Set-Cookie: [redacted]",
        "Accept: */*",
    ]


@pytest.mark.parametrize(
    ("body", "kind", "expected"),
    [
        (b"", None, ""),
        (
            b'{"access_token": "at", "nested": [{"refresh_token": "rt"}], "expires_in": 5}',
            "application/json",
            '{"access_token": "[redacted]", "expires_in": 5, '
            '"nested": [{"refresh_token": "[redacted]"}]}',
        ),
        (b"{not json", "application/json", "{not json"),
        (
            b"grant_type=refresh_token&refresh_token=rt&client_id=c",
            "application/x-www-form-urlencoded",
            "grant_type=refresh_token&refresh_token=[redacted]&client_id=c",
        ),
        (b"<html>hi</html>", "text/html", "(15 bytes of HTML)"),
        (b"see /device?user_code=AB", "text/plain", "see /device?user_code=[redacted]"),
    ],
)
def test_redact_body(body: bytes, kind: str | None, expected: str) -> None:
    assert redact_body(body, kind) == expected


def test_debug_transport_traces_exchange_and_failure() -> None:
    stream = io.StringIO()

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/slow"):
            raise ReadTimeoutError("timed out")
        return HttpResponse(status=200, headers={"Content-Type": "application/json"}, body=b"{}")

    inner = MockTransport(handler)
    closed: list[bool] = []
    inner.close = lambda: closed.append(True)  # type: ignore[attr-defined]
    debug = DebugTransport(inner, stream)
    request = HttpRequest(
        method="POST",
        url="http://h/token",
        headers={"Authorization": "Bearer secret"},
        body=b'{"password": "pw"}',
    )
    assert debug.handle_request(request, timeout=5).status == 200
    with pytest.raises(ReadTimeoutError):
        debug.handle_request(HttpRequest(method="GET", url="http://h/slow"), timeout=5)
    debug.close()
    assert closed == [True]
    text = stream.getvalue()
    assert "> POST http://h/token\n> Authorization: [redacted]\n" in text
    assert '> {"password": "[redacted]"}' in text
    assert "< HTTP 200\n< Content-Type: application/json\n< {}\n" in text
    assert "! ReadTimeoutError: timed out" in text
    assert "secret" not in text and '"pw"' not in text


def test_redact_body_keeps_error_codes_and_hides_authorization_codes() -> None:
    graph = json.dumps({"error": {"code": "Authorization_RequestDenied", "message": "no"}})
    assert "Authorization_RequestDenied" in redact_body(graph.encode(), "application/json")
    grant = json.dumps({"code": "auth-code-secret", "state": "s"})
    assert "auth-code-secret" not in redact_body(grant.encode(), "application/json")
    form = b"grant_type=authorization_code&code=auth-code-secret"
    assert "auth-code-secret" not in redact_body(form, "application/x-www-form-urlencoded")
