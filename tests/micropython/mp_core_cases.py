"""The core's behaviour, checked with plain asserts so it runs under MicroPython as well as CPython.

Every event and every error of ``deviceflow.core`` appears here at least once, in the v1, v2.0 and
RFC 8628 dialects. ``run_core.mjs`` loads this module into MicroPython (WebAssembly) next to a copy
of ``deviceflow/core``; ``test_micropython.py`` runs it there and under CPython. No pytest: each
``test_*`` function is called by :func:`main`, which prints one line per case and a summary.
"""

import json

from deviceflow.core import (
    OAUTH_ERRORS,
    START_ATTEMPTS,
    AccessDeniedError,
    AuthorizationPending,
    BadVerificationCodeError,
    DeviceCodeIssued,
    DeviceFlow,
    DeviceFlowError,
    Discovery,
    Endpoints,
    ExpiredTokenError,
    HttpResponse,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    LocalProtocolError,
    OAuthError,
    RemoteProtocolError,
    Retrying,
    SlowDown,
    Token,
    TokenIssued,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
    discovery_requests,
    endpoints_from_metadata,
    microsoft_endpoints,
    parse_token_response,
    refresh_request,
    start_retry_delay,
)

GRAPH = "https://graph.microsoft.com"
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
RFC = Endpoints(
    device_authorization_url="https://as.example.test/device",
    token_url="https://as.example.test/token",
    dialect="rfc8628",
)
HEX = "0123456789ABCDEF"


def _unquote(text):
    out = bytearray()
    i = 0
    data = text.replace("+", " ").encode("utf-8")
    while i < len(data):
        if data[i] == 37:  # "%"
            out.append(HEX.index(chr(data[i + 1])) * 16 + HEX.index(chr(data[i + 2])))
            i += 3
        else:
            out.append(data[i])
            i += 1
    return bytes(out).decode("utf-8")


def _form(request):
    pairs = {}
    for part in request.body.decode("ascii").split("&"):
        name, _, value = part.partition("=")
        pairs[_unquote(name)] = _unquote(value)
    return pairs


def _respond(status, body, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    return HttpResponse(status=status, headers=headers, body=raw)


def _raises(cls, func, *args, **kwargs):
    try:
        func(*args, **kwargs)
    except cls as exc:
        return exc
    raise AssertionError("did not raise " + cls.__name__)


def _device_body(uri_member="verification_uri", strings=False, **extra):
    body = {
        "device_code": "DEVICE-CODE",
        "user_code": "WDJB-MJHT",
        uri_member: "https://example.test/device",
        "expires_in": "900" if strings else 900,
        "interval": "5" if strings else 5,
    }
    for key in extra:
        body[key] = extra[key]
    return body


def _issued(endpoints=None, resource=None, scopes=("User.Read",), **extra):
    flow = DeviceFlow(
        "client-1", endpoints or microsoft_endpoints("common"), scopes=scopes, resource=resource
    )
    flow.start()
    event = flow.receive(_respond(200, _device_body(**extra)), 0)
    return flow, event


def _polled(endpoints=None, resource=None):
    flow, event = _issued(endpoints, resource)
    flow.poll(event.next_poll_at)
    return flow


# --- requests and DeviceCodeIssued ----------------------------------------------------------------


def test_start_v2_form_and_accept_header():
    flow = DeviceFlow("client-1", microsoft_endpoints("common"), scopes="User.Read offline_access")
    request = flow.start()
    assert request.url == "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"
    assert request.header("accept") == "application/json"
    assert _form(request) == {"client_id": "client-1", "scope": "User.Read offline_access"}


def test_device_code_issued_v2():
    flow, event = _issued(message="Open the page")
    assert isinstance(event, DeviceCodeIssued)
    assert event.user_code == "WDJB-MJHT"
    assert event.verification_uri == "https://example.test/device"
    assert event.expires_at == 900 and event.interval == 5
    assert abs(event.next_poll_at - 6.0) < 1e-9
    assert event.message == "Open the page"
    assert flow.state == "WAITING"
    assert "WDJB" not in repr(event) and "DEVICE-CODE" not in repr(flow)


def test_device_code_issued_v1_url_and_string_numbers():
    endpoints = microsoft_endpoints("organizations", version="v1")
    flow = DeviceFlow("client-1", endpoints, resource=GRAPH)
    assert _form(flow.start()) == {"client_id": "client-1", "resource": GRAPH}
    event = flow.receive(_respond(200, _device_body("verification_url", True)), 10)
    assert event.verification_uri == "https://example.test/device"
    assert event.expires_at == 910 and event.interval == 5
    assert event.message.endswith("enter the code WDJB-MJHT.")


def test_device_code_issued_rfc_defaults_and_complete_uri():
    flow = DeviceFlow("client-1", RFC, scopes=("openid",))
    flow.start()
    body = {
        "device_code": "D",
        "user_code": "U\x1b[2J",
        "verification_uri": "https://example.test/device",
        "verification_uri_complete": "https://example.test/device?user_code=U",
    }
    event = flow.receive(_respond(200, body), 0)
    assert event.interval == 5 and event.expires_at == 1800
    assert event.user_code == "U [2J"
    assert event.verification_uri_complete == "https://example.test/device?user_code=U"


def test_poll_forms_each_dialect():
    flow = _polled()
    assert flow.state == "AWAITING_TOKEN"
    flow2, event = _issued(microsoft_endpoints(version="v1"), resource=GRAPH)
    request = flow2.poll(event.next_poll_at)
    assert _form(request) == {
        "grant_type": GRANT,
        "client_id": "client-1",
        "code": "DEVICE-CODE",
        "resource": GRAPH,
    }
    flow3, event = _issued(RFC)
    assert _form(flow3.poll(6)) == {
        "grant_type": GRANT,
        "client_id": "client-1",
        "device_code": "DEVICE-CODE",
    }


# --- polling events -------------------------------------------------------------------------------


def test_authorization_pending_rfc_google_github():
    for status in (400, 428, 200):
        flow = _polled()
        event = flow.receive(_respond(status, {"error": "authorization_pending"}), 6)
        assert isinstance(event, AuthorizationPending)
        assert abs(event.next_poll_at - 12.0) < 1e-9


def test_slow_down_adds_five_seconds():
    flow = _polled()
    event = flow.receive(_respond(400, {"error": "slow_down"}), 6)
    assert isinstance(event, SlowDown)
    assert event.interval == 10 and abs(event.next_poll_at - 20.0) < 1e-9
    assert flow.interval == 10


def test_retrying_on_503_with_retry_after():
    flow = _polled()
    event = flow.receive(_respond(503, b"<html>down</html>", {"Retry-After": "30"}), 6)
    assert isinstance(event, Retrying)
    assert event.status == 503 and event.retry_after == 30.0 and event.attempt == 1
    assert event.next_poll_at == 36


def test_retrying_on_429_with_http_date():
    flow = _polled()
    headers = {
        "Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT",
        "Date": "Sun, 06 Nov 1994 08:49:27 GMT",
    }
    event = flow.receive(_respond(429, b"", headers), 6)
    assert event.retry_after == 10.0 and event.next_poll_at == 16


def test_retrying_on_server_error_code():
    flow = _polled()
    event = flow.receive(_respond(400, {"error": "temporarily_unavailable"}), 6)
    assert isinstance(event, Retrying) and event.reason == "temporarily_unavailable"


def test_transport_failed_backs_off_and_caps():
    flow, _ = _issued()
    now = 6.0
    delays = []
    for _ in range(5):
        flow.poll(now)
        event = flow.transport_failed(now, "connection reset")
        delays.append(round(event.next_poll_at - now, 6))
        now = event.next_poll_at
    assert delays == [6, 12, 24, 48, 60]
    assert event.attempt == 5 and event.status is None


def test_token_issued_v2_with_claims_and_client_info():
    flow = _polled()
    body = {
        "token_type": "Bearer",
        "access_token": "AT",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "scope": "User.Read openid",
        "refresh_token": "RT",
        "id_token": "eyJhbGciOiJub25lIn0.eyJuYW1lIjoiQWRlbGUifQ.",
        "client_info": "eyJ1aWQiOiJ1IiwidXRpZCI6InQifQ",
    }
    event = flow.receive(_respond(200, body), 7)
    assert isinstance(event, TokenIssued)
    token = event.token
    assert token.access_token == "AT" and token.refresh_token == "RT"
    assert token.scopes == ("User.Read", "openid")
    assert token.expires_at == 3606 and token.ext_expires_in == 3599
    assert token.id_token_claims == {"name": "Adele"}
    assert token.client_info == {"uid": "u", "utid": "t"}
    assert "AT" not in repr(token).replace("Token", "")
    assert flow.state == "DONE"


def test_token_issued_v1_string_expiry():
    flow = _polled(microsoft_endpoints(version="v1"), GRAPH)
    event = flow.receive(_respond(200, {"access_token": "A", "expires_in": "3599"}), 7)
    assert event.token.expires_in == 3599 and event.token.resource == GRAPH


# --- terminal errors ------------------------------------------------------------------------------


def test_access_denied_both_spellings():
    for code in ("access_denied", "authorization_declined"):
        flow = _polled()
        exc = _raises(AccessDeniedError, flow.receive, _respond(400, {"error": code}), 6)
        assert exc.error == code and exc.code == "access_denied"
        assert flow.state == "ERROR"
        _raises(LocalProtocolError, flow.poll, 100)


def test_expired_both_spellings_and_local_expiry():
    for code in ("expired_token", "code_expired"):
        flow = _polled()
        exc = _raises(ExpiredTokenError, flow.receive, _respond(400, {"error": code}), 6)
        assert exc.error == code
    flow, event = _issued()
    _raises(ExpiredTokenError, flow.poll, event.expires_at)


def test_bad_verification_code():
    flow = _polled()
    _raises(
        BadVerificationCodeError,
        flow.receive,
        _respond(400, {"error": "bad_verification_code"}),
        6,
    )


def test_invalid_client_aadsts7000218_is_actionable():
    flow = _polled()
    body = {
        "error": "invalid_client",
        "error_description": "AADSTS7000218: The request body must contain the following "
        "parameter: 'client_assertion' or 'client_secret'.\r\nTrace ID: x",
        "error_codes": [7000218],
    }
    exc = _raises(InvalidClientError, flow.receive, _respond(401, body), 6)
    assert exc.error_codes == (7000218,) and exc.status == 401
    assert "Allow public client flows" in str(exc)


def test_invalid_grant_conditional_access_hint_from_description():
    flow = _polled()
    body = {"error": "invalid_grant", "error_description": "AADSTS53003: blocked."}
    exc = _raises(InvalidGrantError, flow.receive, _respond(400, body), 6)
    assert exc.error_codes == (53003,) and "Conditional Access" in str(exc)


def test_other_rfc6749_errors_and_unknown_code():
    cases = (
        ("invalid_request", InvalidRequestError),
        ("invalid_scope", InvalidScopeError),
        ("unauthorized_client", UnauthorizedClientError),
        ("unsupported_grant_type", UnsupportedGrantTypeError),
    )
    for code, cls in cases:
        flow = _polled()
        exc = _raises(cls, flow.receive, _respond(400, {"error": code}), 6)
        assert OAUTH_ERRORS[code] is cls and isinstance(exc, OAuthError)
    flow = _polled()
    exc = _raises(OAuthError, flow.receive, _respond(400, {"error": "weird", "x": 1}), 6)
    assert type(exc) is OAuthError and exc.error == "weird" and exc.raw["x"] == 1


def test_remote_protocol_error_html_snippet():
    flow = _polled()
    page = b"<html>\n  <title>Proxy Authentication Required</title>\xff</html>"
    exc = _raises(RemoteProtocolError, flow.receive, _respond(407, page), 6)
    assert exc.status == 407
    assert exc.snippet == "<html> <title>Proxy Authentication Required</title>?</html>"
    assert isinstance(exc, DeviceFlowError)


def test_remote_protocol_error_shapes():
    bodies = (
        (200, b"[1, 2]", "not a JSON object"),
        (200, b'{"token_type": "Bearer"}', "'access_token' is missing"),
        (200, b"", "is not JSON"),
        (403, b'{"error": {"code": "Forbidden"}}', "has no 'error' member"),
    )
    for status, body, text in bodies:
        flow = _polled()
        exc = _raises(RemoteProtocolError, flow.receive, _respond(status, body), 6)
        assert text in str(exc), str(exc)
    flow = DeviceFlow("c", RFC)
    flow.start()
    bad = _device_body(interval="soon")
    _raises(RemoteProtocolError, flow.receive, _respond(200, bad), 0)


def test_local_protocol_error_misuse_and_early_poll():
    flow = DeviceFlow("c", RFC)
    _raises(LocalProtocolError, flow.poll, 0)
    assert flow.state == "ERROR"
    flow, _ = _issued()
    exc = _raises(LocalProtocolError, flow.poll, 4.0)
    assert "early" in str(exc)
    flow = DeviceFlow("c", RFC)
    flow.start()
    _raises(LocalProtocolError, flow.start)


# --- refresh, endpoints, values -------------------------------------------------------------------


def test_refresh_request_and_response():
    request = refresh_request(microsoft_endpoints(), "c", "RT", scopes=["User.Read"])
    assert _form(request) == {
        "grant_type": "refresh_token",
        "client_id": "c",
        "refresh_token": "RT",
        "scope": "User.Read",
        "client_info": "1",
    }
    token = parse_token_response(_respond(200, {"access_token": "A", "expires_in": 10}), 5)
    assert token.expires_at == 15
    body = {"error": "invalid_grant", "error_codes": [700082]}
    exc = _raises(InvalidGrantError, parse_token_response, _respond(400, body), 5)
    assert "inactivity" in str(exc)


def test_endpoints_microsoft_discovery_and_metadata():
    endpoints = microsoft_endpoints(authority="https://login.microsoftonline.us/contoso.com")
    assert endpoints.token_url == "https://login.microsoftonline.us/contoso.com/oauth2/v2.0/token"
    urls = [request.url for request in discovery_requests("https://as.example.test/tenant")]
    assert urls == [
        "https://as.example.test/tenant/.well-known/openid-configuration",
        "https://as.example.test/.well-known/oauth-authorization-server/tenant",
    ]
    document = {
        "issuer": "https://as.example.test/tenant",
        "device_authorization_endpoint": "https://as.example.test/tenant/device",
        "token_endpoint": "https://as.example.test/tenant/token",
    }
    found = endpoints_from_metadata(
        _respond(200, document), issuer="https://as.example.test/tenant"
    )
    assert found.dialect == "rfc8628" and found.token_url.endswith("/tenant/token")
    _raises(
        RemoteProtocolError,
        endpoints_from_metadata,
        _respond(404, b"Not Found"),
        issuer="https://as.example.test",
    )


def test_values_are_immutable_and_comparable():
    token = Token(access_token="A", expires_in=100, issued_at=0)
    assert token.is_expired(100) and not token.is_expired(99)
    assert token.with_issued_at(50).expires_at == 150
    _raises(AttributeError, setattr, token, "access_token", "B")
    assert AuthorizationPending(next_poll_at=1) == AuthorizationPending(next_poll_at=1)
    assert SlowDown(interval=10, next_poll_at=1) != SlowDown(interval=15, next_poll_at=1)
    _raises(ValueError, microsoft_endpoints, "bad/tenant")


def test_driver_rules_start_retries_discovery_and_kept_refresh_token():
    fault = RemoteProtocolError("busy", status=503)
    delays = [start_retry_delay(fault, n) for n in range(1, START_ATTEMPTS + 1)]
    assert delays == [1.0, 2.0, None]
    assert start_retry_delay(InvalidClientError(status=400), 1) is None
    discovery = Discovery("https://as.example.test")
    assert len(discovery.requests) == 2
    assert discovery.receive(_respond(404, b"Not Found")) is None
    assert discovery.receive(_respond(200, {"token_endpoint": "x"})) is None
    assert isinstance(discovery.failure(), RemoteProtocolError)
    kept = parse_token_response(_respond(200, {"access_token": "A"}), 0, refresh_token="RT")
    assert kept.refresh_token == "RT" and kept.replace(refresh_token="R2").access_token == "A"


# --- runner ---------------------------------------------------------------------------------------


def main():
    """Run every ``test_*`` case; print one line each and a summary. Returns (passed, failed)."""
    names = sorted(name for name in globals() if name.startswith("test_"))
    passed = failed = 0
    for name in names:
        try:
            globals()[name]()
        except Exception as exc:  # report every failure, keep going
            failed += 1
            print("FAIL " + name + ": " + type(exc).__name__ + ": " + str(exc))
        else:
            passed += 1
            print("PASS " + name)
    print("CORE-CASES passed=" + str(passed) + " failed=" + str(failed))
    return passed, failed
