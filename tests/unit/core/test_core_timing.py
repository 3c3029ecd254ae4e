"""The timing rules the drivers share (``core._timing``), and the rules moved out of the drivers:
discovery's order and fallbacks, and the refresh token kept when a server issues none."""

from __future__ import annotations

import json

import pytest

from deviceflow.core import (
    START_ATTEMPTS,
    Discovery,
    HttpResponse,
    InvalidClientError,
    LocalProtocolError,
    OAuthError,
    RemoteProtocolError,
    is_transient,
    parse_token_response,
    start_retry_delay,
)
from deviceflow.core._timing import MAX_BACKOFF, backoff, padded_wait, slowed_interval
from deviceflow.errors import ConnectError, TLSError

ISSUER = "https://as.example.test/tenant"


def _json(status: int, body: object) -> HttpResponse:
    return HttpResponse(status=status, body=json.dumps(body).encode())


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(ConnectError("refused"), True, id="transport-transient"),
        pytest.param(TLSError("untrusted"), False, id="transport-final"),
        pytest.param(RemoteProtocolError("html", status=503), True, id="5xx"),
        pytest.param(RemoteProtocolError("html", status=429), True, id="429"),
        pytest.param(RemoteProtocolError("html", status=408), True, id="408"),
        pytest.param(RemoteProtocolError("not json", status=200), False, id="garbage-200"),
        pytest.param(RemoteProtocolError("no status"), False, id="no-status"),
        pytest.param(OAuthError("temporarily_unavailable", status=503), True, id="oauth-503"),
        pytest.param(InvalidClientError(status=400), False, id="refusal"),
        pytest.param(LocalProtocolError("misuse"), False, id="caller"),
    ],
)
def test_timing_is_transient_by_flag_or_status(exc: Exception, expected: bool) -> None:
    assert is_transient(exc) is expected


def test_timing_start_retry_delay_doubles_then_gives_up() -> None:
    fault = ConnectError("refused")
    delays = [start_retry_delay(fault, attempt) for attempt in range(1, START_ATTEMPTS + 1)]
    assert delays == [1.0, 2.0, None]


def test_timing_start_retry_delay_never_retries_a_refusal() -> None:
    assert start_retry_delay(InvalidClientError(status=400), 1) is None


def test_timing_backoff_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    wait = padded_wait(5, slowed=False)
    assert wait == pytest.approx(6.0)
    assert [backoff(wait, n, None) for n in (1, 2, 3, 4, 5, 6)] == pytest.approx(
        [6.0, 12.0, 24.0, 48.0, MAX_BACKOFF, MAX_BACKOFF]
    )
    assert backoff(wait, 3, 2.0) == pytest.approx(wait)  # never sooner than the interval
    assert backoff(wait, 1, 30.0) == 30.0
    assert backoff(90.0, 4, None) == 90.0  # a long interval is never shortened by the cap


def test_timing_slow_down_adds_five_or_takes_a_larger_stated_interval() -> None:
    assert slowed_interval(5, None) == 10
    assert slowed_interval(5, "7") == 10
    assert slowed_interval(5, 30) == 30
    assert padded_wait(10, slowed=True) == pytest.approx(14.0)


def test_discovery_tries_oidc_then_rfc8414_and_takes_the_first_usable_answer() -> None:
    discovery = Discovery(ISSUER)
    urls = [request.url for request in discovery.requests]
    assert urls == [
        ISSUER + "/.well-known/openid-configuration",
        "https://as.example.test/.well-known/oauth-authorization-server/tenant",
    ]
    assert discovery.receive(HttpResponse(status=404)) is None
    endpoints = discovery.receive(
        _json(
            200,
            {
                "issuer": ISSUER,
                "device_authorization_endpoint": ISSUER + "/device",
                "token_endpoint": ISSUER + "/token",
            },
        )
    )
    assert endpoints is not None and endpoints.token_url == ISSUER + "/token"


def test_discovery_failure_names_the_last_unusable_document() -> None:
    discovery = Discovery(ISSUER)
    assert discovery.receive(_json(200, {"issuer": ISSUER, "token_endpoint": "x"})) is None
    failure = discovery.failure()
    assert "device_authorization_endpoint" in str(failure)
    assert failure is discovery.error


def test_discovery_failure_without_any_document() -> None:
    discovery = Discovery(ISSUER)
    for _ in discovery.requests:
        assert discovery.receive(HttpResponse(status=404)) is None
    assert "no usable discovery document" in str(discovery.failure())


def test_refresh_response_without_refresh_token_keeps_the_redeemed_one() -> None:
    answer = _json(200, {"access_token": "at", "expires_in": 60})
    kept = parse_token_response(answer, 0.0, refresh_token="old-rt")
    assert kept.refresh_token == "old-rt"
    assert parse_token_response(answer, 0.0).refresh_token is None
    rotated = _json(200, {"access_token": "at", "refresh_token": "new-rt"})
    assert parse_token_response(rotated, 0.0, refresh_token="old-rt").refresh_token == "new-rt"


def test_token_replace_copies_validates_and_leaves_the_original() -> None:
    token = parse_token_response(_json(200, {"access_token": "at", "scope": "a b"}), 5.0)
    copy = token.replace(refresh_token="rt")
    assert (copy.refresh_token, copy.scopes, copy.issued_at) == ("rt", ("a", "b"), 5.0)
    assert token.refresh_token is None
    with pytest.raises(TypeError):
        token.replace(access_token="")
