"""Event values: keyword-only, validated, immutable, comparable, safe to log."""

from __future__ import annotations

import pytest

from deviceflow.core import (
    AuthorizationPending,
    DeviceCodeIssued,
    Retrying,
    SlowDown,
    Token,
    TokenIssued,
)

ISSUED = {
    "user_code": "U",
    "verification_uri": "https://e/d",
    "message": "m",
    "expires_at": 900,
    "interval": 5,
    "next_poll_at": 6,
}


@pytest.mark.parametrize(
    ("factory", "exc"),
    [
        pytest.param(
            lambda: DeviceCodeIssued(**{**ISSUED, "user_code": ""}), TypeError, id="empty-user-code"
        ),
        pytest.param(
            lambda: DeviceCodeIssued(**{**ISSUED, "interval": 0}), ValueError, id="zero-interval"
        ),
        pytest.param(
            lambda: DeviceCodeIssued(**{**ISSUED, "expires_at": "x"}), TypeError, id="expires-str"
        ),
        pytest.param(
            lambda: DeviceCodeIssued(**{**ISSUED, "verification_uri_complete": 1}),
            TypeError,
            id="complete-not-str",
        ),
        pytest.param(lambda: AuthorizationPending(next_poll_at=True), TypeError, id="bool-time"),
        pytest.param(
            lambda: SlowDown(interval=-5, next_poll_at=1), ValueError, id="negative-interval"
        ),
        pytest.param(
            lambda: Retrying(reason="r", attempt=0, next_poll_at=1), ValueError, id="attempt-0"
        ),
        pytest.param(
            lambda: Retrying(reason="r", attempt=1, next_poll_at=1, status="503"),
            TypeError,
            id="status-str",
        ),
        pytest.param(
            lambda: Retrying(reason="r", attempt=1, next_poll_at=1, retry_after="1"),
            TypeError,
            id="retry-after-str",
        ),
        pytest.param(lambda: TokenIssued(token="t"), TypeError, id="token-not-token"),
        pytest.param(lambda: AuthorizationPending(1.0), TypeError, id="positional"),
    ],
)
def test_event_constructor_invalid_values_raise(factory: object, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        factory()  # type: ignore[operator]


def test_event_equality_hash_and_immutability() -> None:
    one = Retrying(reason="HTTP 503", attempt=1, next_poll_at=6, status=503, retry_after=1.0)
    two = Retrying(reason="HTTP 503", attempt=1, next_poll_at=6, status=503, retry_after=1.0)
    assert one == two and hash(one) == hash(two)
    assert one != Retrying(reason="HTTP 503", attempt=2, next_poll_at=6)
    assert AuthorizationPending(next_poll_at=6) != SlowDown(interval=6, next_poll_at=6)
    assert AuthorizationPending(next_poll_at=6) != 6
    with pytest.raises(AttributeError):
        one.attempt = 3  # type: ignore[misc]
    token = Token(access_token="A", issued_at=0)
    assert TokenIssued(token=token) == TokenIssued(token=token)


def test_event_repr_names_fields_and_hides_the_user_code() -> None:
    event = DeviceCodeIssued(**ISSUED, verification_uri_complete="https://e/d?c=U")  # type: ignore[arg-type]
    assert repr(event) == (
        "DeviceCodeIssued(user_code=<hidden>, verification_uri='https://e/d', "
        "verification_uri_complete=<hidden>, message=<hidden>, expires_at=900, interval=5, "
        "next_poll_at=6)"
    )
    assert repr(SlowDown(interval=10, next_poll_at=20)) == "SlowDown(interval=10, next_poll_at=20)"
