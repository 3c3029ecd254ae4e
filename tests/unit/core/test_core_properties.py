"""Property tests: arbitrary statuses, headers and bodies reach the parsers and only our own
error types (or valid events) come out — never KeyError, JSONDecodeError or UnicodeDecodeError."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from deviceflow.core import (
    AuthorizationPending,
    DeviceCodeIssued,
    DeviceFlowError,
    ExpiredTokenError,
    HttpResponse,
    LocalProtocolError,
    Retrying,
    SlowDown,
    TokenIssued,
    endpoints_from_metadata,
    parse_token_response,
)

from ._support import DIALECTS, issued

STATUS = st.integers(min_value=100, max_value=599)
TEXT = st.text(max_size=20)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
MEMBERS = st.sampled_from(
    [
        "error",
        "error_description",
        "error_codes",
        "error_uri",
        "interval",
        "access_token",
        "token_type",
        "expires_in",
        "ext_expires_in",
        "scope",
        "refresh_token",
        "id_token",
        "client_info",
        "resource",
        "device_code",
        "user_code",
        "verification_uri",
        "verification_url",
        "verification_uri_complete",
        "message",
        "issuer",
        "device_authorization_endpoint",
        "token_endpoint",
    ]
)
ERROR_CODES = st.sampled_from(
    [
        "authorization_pending",
        "slow_down",
        "access_denied",
        "authorization_declined",
        "expired_token",
        "code_expired",
        "bad_verification_code",
        "invalid_client",
        "invalid_grant",
        "server_error",
        "temporarily_unavailable",
        "something_else",
    ]
)
OBJECTS = st.dictionaries(MEMBERS, JSON_VALUE | ERROR_CODES, max_size=8)
BODIES = st.one_of(
    st.binary(max_size=200),
    OBJECTS.map(lambda obj: json.dumps(obj).encode()),
    JSON_VALUE.map(lambda value: json.dumps(value).encode()),
)
HEADERS = st.lists(
    st.tuples(
        st.sampled_from(["Retry-After", "Date", "Content-Type", "X-Other"]),
        st.text(max_size=40) | st.just("Sun, 06 Nov 1994 08:49:37 GMT"),
    ),
    max_size=3,
)
NOW = st.floats(min_value=0, max_value=1e9, allow_nan=False)
EVENTS = (AuthorizationPending, SlowDown, Retrying, TokenIssued)
SETTINGS = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(status=STATUS, headers=HEADERS, body=BODIES, dialect=st.sampled_from(DIALECTS))
@example(status=400, headers=[], body=b'{"error":"slow_down","interval":638}', dialect=DIALECTS[0])
def test_property_poll_response_any_input_gives_event_or_own_error(
    status: int, headers: list[tuple[str, str]], body: bytes, dialect: object
) -> None:
    flow, event = issued(dialect, now=0)  # type: ignore[arg-type]
    flow.poll(event.next_poll_at)
    try:
        result = flow.receive(HttpResponse(status=status, headers=headers, body=body), 7)
    except DeviceFlowError as exc:
        assert not isinstance(exc, LocalProtocolError)
        assert flow.state == "ERROR"
        return
    assert isinstance(result, EVENTS)
    if not isinstance(result, TokenIssued):
        assert 7 < result.next_poll_at <= event.expires_at
        if result.next_poll_at < event.expires_at:
            flow.poll(result.next_poll_at)  # the schedule is always legal to follow
        else:  # a wait capped at expiry ends the flow there, with the typed error
            with pytest.raises(ExpiredTokenError):
                flow.poll(result.next_poll_at)


@SETTINGS
@given(status=STATUS, headers=HEADERS, body=BODIES, dialect=st.sampled_from(DIALECTS))
def test_property_device_code_response_any_input_gives_event_or_own_error(
    status: int, headers: list[tuple[str, str]], body: bytes, dialect: object
) -> None:
    flow = dialect.flow()  # type: ignore[attr-defined]
    flow.start()
    try:
        result = flow.receive(HttpResponse(status=status, headers=headers, body=body), 0)
    except DeviceFlowError as exc:
        assert not isinstance(exc, LocalProtocolError)
        return
    assert isinstance(result, DeviceCodeIssued)
    assert result.interval >= 1 and result.expires_at > 0
    for char in result.user_code + result.message:
        assert ord(char) >= 32 and not 127 <= ord(char) < 160


@SETTINGS
@given(status=STATUS, headers=HEADERS, body=BODIES, now=NOW)
def test_property_parse_token_response_any_input_gives_token_or_own_error(
    status: int, headers: list[tuple[str, str]], body: bytes, now: float
) -> None:
    try:
        token = parse_token_response(HttpResponse(status=status, headers=headers, body=body), now)
    except DeviceFlowError:
        return
    assert token.access_token and token.issued_at == now


@SETTINGS
@given(status=STATUS, body=BODIES)
def test_property_endpoints_from_metadata_any_input_gives_endpoints_or_own_error(
    status: int, body: bytes
) -> None:
    try:
        endpoints_from_metadata(
            HttpResponse(status=status, body=body), issuer="https://as.example.test"
        )
    except DeviceFlowError:
        return
