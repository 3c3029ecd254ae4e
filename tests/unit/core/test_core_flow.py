"""DeviceFlow driven with scripted responses: every event and error, in every dialect."""

from __future__ import annotations

import pytest

from deviceflow.core import (
    AWAITING_DEVICE_CODE,
    AWAITING_TOKEN,
    DONE,
    ERROR,
    IDLE,
    WAITING,
    AccessDeniedError,
    AuthorizationPending,
    BadVerificationCodeError,
    DeviceCodeIssued,
    DeviceFlow,
    ExpiredTokenError,
    HttpResponse,
    InvalidClientError,
    InvalidGrantError,
    LocalProtocolError,
    OAuthError,
    RemoteProtocolError,
    Retrying,
    SlowDown,
    TokenIssued,
    microsoft_endpoints,
)

from ._support import DIALECTS, GRAPH, RFC, V1, V2, Dialect, error, form, issued, respond

ALL = [pytest.param(d, id=d.name) for d in DIALECTS]
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


# --- requests ----------------------------------------------------------------------------------


@pytest.mark.spec("RFC8628", "3.1")
@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        pytest.param(V2, {"client_id": "client-1", "scope": "User.Read offline_access"}, id="v2"),
        pytest.param(V1, {"client_id": "client-1", "resource": GRAPH}, id="v1"),
        pytest.param(RFC, {"client_id": "client-1", "scope": "openid profile"}, id="rfc8628"),
    ],
)
def test_flow_start_each_dialect_sends_its_form(dialect: Dialect, expected: dict[str, str]) -> None:
    flow = dialect.flow()
    request = flow.start()
    assert request.method == "POST"
    assert request.url == dialect.endpoints.device_authorization_url
    assert request.header("accept") == "application/json"
    assert request.header("content-type") == "application/x-www-form-urlencoded"
    assert form(request) == expected
    assert flow.state == AWAITING_DEVICE_CODE


@pytest.mark.spec("RFC8628", "3.4")
@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        pytest.param(
            V2,
            {
                "grant_type": GRANT,
                "client_id": "client-1",
                "device_code": "DEVICE-CODE-SECRET",
                "client_info": "1",
            },
            id="v2",
        ),
        pytest.param(
            V1,
            {
                "grant_type": GRANT,
                "client_id": "client-1",
                "code": "DEVICE-CODE-SECRET",
                "resource": GRAPH,
            },
            id="v1",
        ),
        pytest.param(
            RFC,
            {"grant_type": GRANT, "client_id": "client-1", "device_code": "DEVICE-CODE-SECRET"},
            id="rfc8628",
        ),
    ],
)
def test_flow_poll_each_dialect_sends_its_form(dialect: Dialect, expected: dict[str, str]) -> None:
    flow, event = issued(dialect)
    request = flow.poll(event.next_poll_at)
    assert request.url == dialect.endpoints.token_url
    assert request.header("Accept") == "application/json"
    assert form(request) == expected
    assert flow.state == AWAITING_TOKEN


def test_flow_rfc8628_with_resource_sends_resource_indicator() -> None:
    flow = DeviceFlow("c", RFC.endpoints, scopes="a b a", resource="https://api.example.test")
    assert flow.scopes == ("a", "b")
    assert form(flow.start()) == {
        "client_id": "c",
        "scope": "a b",
        "resource": "https://api.example.test",
    }


def test_flow_v2_resource_without_scopes_requests_default_scope() -> None:
    flow = DeviceFlow("c", V2.endpoints, resource=GRAPH + "/")
    assert form(flow.start())["scope"] == GRAPH + "/.default"


@pytest.mark.parametrize(
    ("args", "kwargs", "exc"),
    [
        pytest.param(("", V2.endpoints), {}, ValueError, id="empty-client-id"),
        pytest.param(("c", "https://x"), {}, TypeError, id="endpoints-not-endpoints"),
        pytest.param(("c", V1.endpoints), {}, ValueError, id="v1-without-resource"),
        pytest.param(("c", V2.endpoints), {"resource": ""}, ValueError, id="empty-resource"),
        pytest.param(("c", V2.endpoints), {"scopes": 5}, TypeError, id="scopes-not-sequence"),
        pytest.param(("c", V2.endpoints), {"scopes": [1]}, TypeError, id="scope-not-str"),
    ],
)
def test_flow_constructor_bad_arguments_raise(args: tuple, kwargs: dict, exc: type) -> None:
    with pytest.raises(exc):
        DeviceFlow(*args, **kwargs)


# --- DeviceCodeIssued ----------------------------------------------------------------------------


@pytest.mark.spec("RFC8628", "3.2")
@pytest.mark.parametrize("dialect", ALL)
def test_flow_device_code_response_each_dialect_issues_event(dialect: Dialect) -> None:
    flow, event = issued(dialect, now=1000.0)
    assert event.user_code == "WDJB-MJHT"
    assert event.verification_uri == "https://example.test/device"
    assert event.verification_uri_complete is None
    assert event.expires_at == 1900.0
    assert event.interval == 5
    assert event.next_poll_at == pytest.approx(1006.0)
    assert event.message.startswith("Open https://example.test/device")
    assert (flow.state, flow.expires_at, flow.interval) == (WAITING, 1900.0, 5)
    assert flow.next_poll_at == event.next_poll_at


@pytest.mark.spec("RFC8628", "3.2")
@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        pytest.param({"interval": None}, lambda e: e.interval == 5, id="missing-interval-is-5"),
        pytest.param({"interval": "0"}, lambda e: e.interval == 1, id="zero-interval-floors-to-1"),
        pytest.param({"interval": 7.5}, lambda e: e.interval == 7, id="float-interval"),
        pytest.param(
            {"expires_in": None}, lambda e: e.expires_at == 1800, id="missing-expires-in-1800"
        ),
        pytest.param(
            {"message": None},
            lambda e: (
                e.message
                == "To sign in, open https://example.test/device and enter the code WDJB-MJHT."
            ),
            id="missing-message-is-built",
        ),
        pytest.param(
            {"message": "Go\x1b[31m there\r\n now"},
            lambda e: e.message == "Go [31m there now",
            id="control-characters-removed",
        ),
        pytest.param(
            {"verification_uri_complete": "https://example.test/device?code=WDJB-MJHT"},
            lambda e: e.verification_uri_complete == "https://example.test/device?code=WDJB-MJHT",
            id="complete-uri",
        ),
        pytest.param(
            {"verification_uri_complete": "javascript:alert(1)"},
            lambda e: e.verification_uri_complete is None,
            id="complete-uri-not-http-ignored",
        ),
        pytest.param(
            {"expires_in": 3},
            lambda e: e.next_poll_at == 3 and e.expires_at == 3,
            id="next-poll-never-past-expiry",
        ),
    ],
)
def test_flow_device_code_response_tolerated_variants_issue_event(
    overrides: dict, check: object
) -> None:
    flow = RFC.flow()
    flow.start()
    event = flow.receive(respond(200, RFC.device_code_body(**overrides)), 0)
    assert isinstance(event, DeviceCodeIssued)
    assert check(event)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("response", "exc", "text"),
    [
        pytest.param(
            respond(200, V2.device_code_body(device_code=None)),
            RemoteProtocolError,
            "'device_code' is missing",
            id="missing-device-code",
        ),
        pytest.param(
            respond(200, V2.device_code_body(user_code=7)),
            RemoteProtocolError,
            "'user_code' is not a non-empty string",
            id="user-code-not-string",
        ),
        pytest.param(
            respond(200, V2.device_code_body(verification_uri=None)),
            RemoteProtocolError,
            "'verification_uri' is missing",
            id="missing-verification-uri",
        ),
        pytest.param(
            respond(200, V2.device_code_body(verification_uri="ftp://x/y")),
            RemoteProtocolError,
            "not an http(s) URL",
            id="verification-uri-not-http",
        ),
        pytest.param(
            respond(200, V2.device_code_body(interval="soon")),
            RemoteProtocolError,
            "'interval' is not a non-negative number",
            id="interval-not-a-number",
        ),
        pytest.param(
            respond(200, V2.device_code_body(expires_in=0)),
            RemoteProtocolError,
            "'expires_in' is zero",
            id="expires-in-zero",
        ),
        pytest.param(
            respond(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
            RemoteProtocolError,
            "(HTTP 502): '<html><body><h1>502 Bad Gateway</h1></body></html>'",
            id="html-proxy-page",
        ),
        pytest.param(
            respond(404, {"detail": "not found"}),
            RemoteProtocolError,
            "has no 'error' member (HTTP 404)",
            id="json-without-error",
        ),
        pytest.param(
            error(
                "invalid_client",
                401,
                error_description="AADSTS7000218: The request body must contain "
                "the following parameter: 'client_assertion' or 'client_secret'.",
                error_codes=[7000218],
            ),
            InvalidClientError,
            "enable 'Allow public client flows' on the app registration",
            id="aadsts7000218-actionable",
        ),
        pytest.param(
            error("invalid_scope", error_description="AADSTS70011: bad scope"),
            OAuthError,
            "invalid_scope: AADSTS70011: bad scope",
            id="invalid-scope",
        ),
        pytest.param(
            error("unauthorized_client", 200),
            OAuthError,
            "unauthorized_client",
            id="error-with-200",
        ),
    ],
)
def test_flow_device_code_response_broken_or_error_raises(
    response: HttpResponse, exc: type[Exception], text: str
) -> None:
    flow = V2.flow()
    flow.start()
    with pytest.raises(exc) as info:
        flow.receive(response, 0)
    assert text in str(info.value)
    assert flow.state == ERROR
    with pytest.raises(LocalProtocolError):
        flow.poll(100)


# --- polling events ------------------------------------------------------------------------------


@pytest.mark.spec("RFC8628", "3.5")
@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize(
    "response",
    [
        pytest.param(error("authorization_pending"), id="rfc-400"),
        pytest.param(error("authorization_pending", 428), id="google-428"),
        pytest.param(error("authorization_pending", 200), id="github-200"),
        pytest.param(
            error(
                "authorization_pending",
                error_description="AADSTS70016: OAuth 2.0 device flow error. "
                "Authorization is pending.\r\nTrace ID: 1",
                error_codes=[70016],
            ),
            id="microsoft-aadsts70016",
        ),
    ],
)
def test_flow_pending_any_shape_returns_authorization_pending(
    dialect: Dialect, response: HttpResponse
) -> None:
    flow, event = issued(dialect, now=0)
    flow.poll(6)
    pending = flow.receive(response, 6.5)
    assert pending == AuthorizationPending(next_poll_at=12.5)
    assert flow.state == WAITING


@pytest.mark.spec("RFC8628", "3.5")
@pytest.mark.parametrize("dialect", ALL)
def test_flow_slow_down_adds_five_seconds_for_the_rest_of_the_flow(dialect: Dialect) -> None:
    flow, _ = issued(dialect, now=0)
    flow.poll(6)
    event = flow.receive(error("slow_down"), 6)
    assert event == SlowDown(interval=10, next_poll_at=20)  # padded x1.4 after slow_down
    with pytest.raises(LocalProtocolError, match="early"):
        flow.poll(15.9)


@pytest.mark.spec("RFC8628", "3.5")
def test_flow_slow_down_twice_keeps_adding_and_pending_keeps_interval() -> None:
    flow, _ = issued(V2, now=0)
    flow.poll(6)
    flow.receive(error("slow_down"), 6)
    flow.poll(20)
    assert flow.receive(error("slow_down"), 20) == SlowDown(interval=15, next_poll_at=41)
    flow.poll(41)
    assert flow.receive(error("authorization_pending"), 41) == AuthorizationPending(next_poll_at=62)
    assert flow.interval == 15


def test_flow_slow_down_with_larger_interval_uses_server_interval() -> None:
    flow, _ = issued(RFC, now=0)
    flow.poll(6)
    event = flow.receive(error("slow_down", interval="30"), 6)
    assert isinstance(event, SlowDown)
    assert event.interval == 30


@pytest.mark.spec("RFC8628", "3.5")
@pytest.mark.parametrize("dialect", ALL)
def test_flow_poll_before_interval_raises_local_protocol_error(dialect: Dialect) -> None:
    flow, event = issued(dialect, now=0)
    with pytest.raises(LocalProtocolError, match="RFC 8628 section 3.5"):
        flow.poll(4.99)
    assert flow.state == ERROR


@pytest.mark.spec("RFC8628", "3.5")
@pytest.mark.parametrize(
    ("response", "reason", "status", "after"),
    [
        pytest.param(respond(500, b"Internal Server Error"), "HTTP 500", 500, None, id="500-text"),
        pytest.param(
            respond(502, b"<html>Bad Gateway</html>"), "HTTP 502", 502, None, id="502-html"
        ),
        pytest.param(
            respond(503, b"", {"Retry-After": "12"}), "HTTP 503", 503, 12.0, id="503-retry-after"
        ),
        pytest.param(
            respond(
                429,
                b"slow",
                {
                    "Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT",
                    "Date": "Sun, 06 Nov 1994 08:49:07 GMT",
                },
            ),
            "HTTP 429",
            429,
            30.0,
            id="429-http-date",
        ),
        pytest.param(respond(408, b""), "HTTP 408", 408, None, id="408"),
        pytest.param(
            error("server_error", 500), "server_error", 500, None, id="oauth-server-error"
        ),
        pytest.param(
            error("temporarily_unavailable", 400),
            "temporarily_unavailable",
            400,
            None,
            id="oauth-temporarily-unavailable",
        ),
        pytest.param(respond(504, {"message": "timeout"}), "HTTP 504", 504, None, id="504-json"),
        pytest.param(
            error("too_many_requests", 429), "too_many_requests", 429, None, id="429-unknown-code"
        ),
        pytest.param(
            error("service_unavailable", 503),
            "service_unavailable",
            503,
            None,
            id="503-unknown-code",
        ),
    ],
)
def test_flow_transient_status_returns_retrying(
    response: HttpResponse, reason: str, status: int, after: float | None
) -> None:
    flow, _ = issued(V2, now=0)
    flow.poll(6)
    event = flow.receive(response, 6)
    assert isinstance(event, Retrying)
    assert (event.reason, event.status, event.retry_after, event.attempt) == (
        reason,
        status,
        after,
        1,
    )
    assert event.next_poll_at == 6 + max(after or 0, 6)
    assert flow.state == WAITING


@pytest.mark.spec("RFC8628", "3.5")
def test_flow_transport_failures_back_off_exponentially_with_cap_then_reset() -> None:
    flow, _ = issued(V2, now=0)
    now = 6.0
    delays = []
    for _ in range(6):
        flow.poll(now)
        event = flow.transport_failed(now, "connection refused")
        delays.append(event.next_poll_at - now)
        now = event.next_poll_at
    assert delays == [6, 12, 24, 48, 60, 60]
    assert event.attempt == 6 and event.status is None and event.reason == "connection refused"
    flow.poll(now)
    flow.receive(error("authorization_pending"), now)
    flow.poll(now + 6)
    assert flow.transport_failed(now + 6, "reset").attempt == 1


def test_flow_retrying_never_schedules_past_expiry_then_poll_raises_expired() -> None:
    flow, event = issued(V2, now=0)
    flow.poll(890)
    retry = flow.receive(respond(503, b"", {"Retry-After": "3600"}), 890)
    assert retry.next_poll_at == 900 == event.expires_at
    with pytest.raises(ExpiredTokenError):
        flow.poll(retry.next_poll_at)
    assert flow.state == ERROR


# --- TokenIssued ---------------------------------------------------------------------------------


@pytest.mark.spec("RFC8628", "3.5")
@pytest.mark.parametrize("dialect", ALL)
def test_flow_token_response_each_dialect_issues_token(dialect: Dialect) -> None:
    flow, _ = issued(dialect, now=0)
    flow.poll(6)
    event = flow.receive(respond(200, dialect.token_body()), 7)
    assert isinstance(event, TokenIssued)
    token = event.token
    assert token.access_token == "ACCESS-TOKEN-SECRET"
    assert token.refresh_token == "REFRESH-TOKEN-SECRET"
    assert token.expires_in == 3599 and token.issued_at == 7 and token.expires_at == 3606
    assert flow.state == DONE
    if dialect is V2:
        assert token.scopes == ("User.Read", "openid", "profile")
        assert token.ext_expires_in == 3599
    elif dialect is V1:
        assert token.resource == GRAPH
    else:
        assert token.scopes == ("openid", "profile")  # omitted scope = the requested one
    with pytest.raises(LocalProtocolError):
        flow.poll(100)
    assert flow.state == ERROR


# --- terminal errors -----------------------------------------------------------------------------


@pytest.mark.spec("RFC8628", "3.5")
@pytest.mark.parametrize("dialect", ALL)
def test_flow_denied_each_dialect_raises_access_denied(dialect: Dialect) -> None:
    flow, _ = issued(dialect, now=0)
    flow.poll(6)
    with pytest.raises(AccessDeniedError) as info:
        flow.receive(error(dialect.denied), 6)
    assert info.value.error == dialect.denied
    assert info.value.code == "access_denied"
    assert flow.state == ERROR


@pytest.mark.spec("RFC8628", "3.5")
@pytest.mark.parametrize("dialect", ALL)
def test_flow_expired_each_dialect_raises_expired_token(dialect: Dialect) -> None:
    flow, _ = issued(dialect, now=0)
    flow.poll(6)
    with pytest.raises(ExpiredTokenError) as info:
        flow.receive(
            error(
                dialect.expired,
                error_description="AADSTS70020: The provided value for the input parameter "
                "'device_code' is not valid. This device code has expired.",
            ),
            6,
        )
    assert info.value.error == dialect.expired
    assert info.value.error_codes == (70020,)
    assert "start a new sign-in" in str(info.value)


@pytest.mark.spec("RFC8628", "3.5")
def test_flow_poll_at_expiry_raises_expired_without_a_request() -> None:
    flow, event = issued(RFC, now=0)
    with pytest.raises(ExpiredTokenError, match="expired before the user finished"):
        flow.poll(event.expires_at)
    assert flow.state == ERROR


@pytest.mark.parametrize(
    ("response", "exc", "text"),
    [
        pytest.param(
            error("bad_verification_code"),
            BadVerificationCodeError,
            "bad_verification_code",
            id="bad-code",
        ),
        pytest.param(
            error("invalid_client", 401, error_codes=["7000218"]),
            InvalidClientError,
            "Allow public client flows",
            id="invalid-client-aadsts-string-code",
        ),
        pytest.param(
            error(
                "invalid_grant",
                error_description="AADSTS53003: Access has been blocked by Conditional Access.",
                error_codes=[53003],
                suberror="bad_token",
            ),
            InvalidGrantError,
            "blocked by your organisation's Conditional Access policy",
            id="invalid-grant-conditional-access",
        ),
        pytest.param(
            error("access_denied", 403), AccessDeniedError, "access_denied", id="google-403"
        ),
        pytest.param(
            error("frobnicated", error_description="something new"),
            OAuthError,
            "frobnicated: something new",
            id="unknown-code-kept",
        ),
        pytest.param(
            respond(400, b"<!DOCTYPE html><title>Access denied by proxy</title>"),
            RemoteProtocolError,
            "'<!DOCTYPE html><title>Access denied by proxy</title>'",
            id="html-400",
        ),
        pytest.param(
            respond(200, b"OK"), RemoteProtocolError, "token response is not JSON", id="text-200"
        ),
        pytest.param(
            respond(200, b'["ACCESS"]'),
            RemoteProtocolError,
            "is not a JSON object",
            id="json-array",
        ),
        pytest.param(
            respond(200, {"token_type": "Bearer"}),
            RemoteProtocolError,
            "'access_token' is missing",
            id="missing-access-token",
        ),
        pytest.param(
            respond(200, {"access_token": "A", "expires_in": "soon"}),
            RemoteProtocolError,
            "'expires_in' is not a non-negative number",
            id="bad-expires-in",
        ),
        pytest.param(
            respond(401, {"error": {"code": "InvalidAuthenticationToken"}}),
            RemoteProtocolError,
            "has no 'error' member (HTTP 401)",
            id="graph-shaped-error",
        ),
    ],
)
def test_flow_poll_terminal_response_raises_typed_error(
    response: HttpResponse, exc: type[Exception], text: str
) -> None:
    flow, _ = issued(V2, now=0)
    flow.poll(6)
    with pytest.raises(exc) as info:
        flow.receive(response, 6)
    assert text in str(info.value)
    assert type(info.value) is exc
    assert flow.state == ERROR


def test_flow_unknown_error_keeps_code_description_and_raw_body() -> None:
    flow, _ = issued(V2, now=0)
    flow.poll(6)
    with pytest.raises(OAuthError) as info:
        flow.receive(error("new_code", 400, error_description="d", error_uri="https://e/x"), 6)
    exc = info.value
    assert (exc.error, exc.description, exc.error_uri, exc.status) == (
        "new_code",
        "d",
        "https://e/x",
        400,
    )
    assert exc.raw == {"error": "new_code", "error_description": "d", "error_uri": "https://e/x"}
    assert exc.code is None


# --- misuse --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "misuse",
    [
        pytest.param(lambda f: f.receive(respond(200, b"{}"), 0), id="receive-before-start"),
        pytest.param(lambda f: f.poll(0), id="poll-before-start"),
        pytest.param(lambda f: f.transport_failed(0, "x"), id="transport-failed-before-poll"),
        pytest.param(lambda f: (f.start(), f.start()), id="start-twice"),
        pytest.param(lambda f: (f.start(), f.poll(0)), id="poll-before-device-code"),
    ],
)
def test_flow_call_in_wrong_state_raises_and_enters_error(misuse: object) -> None:
    flow = V2.flow()
    with pytest.raises(LocalProtocolError):
        misuse(flow)  # type: ignore[operator]
    assert flow.state == ERROR
    with pytest.raises(LocalProtocolError):
        flow.start()
    assert flow.state == ERROR


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda f: f.receive("200", 0), id="receive-not-response"),
        pytest.param(lambda f: f.receive(respond(200, b"{}"), "now"), id="receive-now-not-number"),
        pytest.param(lambda f: f.poll(True), id="poll-now-bool"),
        pytest.param(lambda f: f.transport_failed(0, ""), id="empty-reason"),
    ],
)
def test_flow_bad_argument_types_raise_type_error_without_state_change(call: object) -> None:
    flow, _ = issued(V2, now=0)
    with pytest.raises(TypeError):
        call(flow)  # type: ignore[operator]
    assert flow.state == WAITING


def test_flow_wait_between_state_transitions_is_idle_first() -> None:
    assert V2.flow().state == IDLE


def test_flow_repr_and_events_never_show_codes() -> None:
    flow, event = issued(V2, now=0)
    text = repr(flow) + repr(event) + repr(flow.poll(6))
    assert "DEVICE-CODE-SECRET" not in text and "WDJB-MJHT" not in text
    assert "user_code=<hidden>" in repr(event)
    token = flow.receive(respond(200, V2.token_body()), 7)
    assert "SECRET" not in repr(token)


def test_flow_v1_authority_with_tenant_path_drives_to_token() -> None:
    endpoints = microsoft_endpoints(
        authority="https://login.microsoftonline.us/contoso.com", version="v1"
    )
    flow = DeviceFlow("c", endpoints, resource=GRAPH)
    assert flow.start().url == "https://login.microsoftonline.us/contoso.com/oauth2/devicecode"


@pytest.mark.spec("RFC8628", "3.5")
def test_flow_known_error_code_on_transient_status_stays_terminal() -> None:
    flow, _ = issued(V2, now=0)
    flow.poll(6)
    with pytest.raises(InvalidGrantError):
        flow.receive(error("invalid_grant", 503), 6)
    assert flow.state == ERROR
