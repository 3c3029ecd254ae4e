"""The client core against the server app, in process and without sockets (RFC 8628 §3.4, §3.5).

Each test drives :class:`deviceflow.core.DeviceFlow` through :mod:`tests.support.pair`: the
core's requests go to ``create_app``'s ASGI app, its answers come back to the core, and time is
the shared fake clock, moved to each ``next_poll_at`` instead of slept through.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deviceflow.core import (
    ERROR,
    AccessDeniedError,
    AuthorizationPending,
    DeviceFlow,
    ExpiredTokenError,
    HttpRequest,
    InvalidGrantError,
    SlowDown,
    TokenIssued,
)
from deviceflow.server.settings import Settings
from deviceflow.server.storage import open_storage
from tests.support.app_harness import ALICE, CLIENT_ID
from tests.support.pair import BASE, Pair, PollEvent, pair

SCOPES = "openid offline_access User.Read"


@pytest.fixture
def harness(server_settings: Settings) -> Iterator[Pair]:
    with pair(server_settings) as made:
        yield made


def new_flow(harness: Pair) -> DeviceFlow:
    return DeviceFlow(CLIENT_ID, harness.endpoints(), scopes=SCOPES)


def approve(harness: Pair, user_code: str, *, approve: bool = True) -> None:
    harness.server.decide(user_code, tenant="contoso", username=ALICE[0], approve=approve)


def test_pair_honest_device_gets_tokens_after_approval_without_slow_down(
    server_settings: Settings, backend: str
) -> None:
    with pair(server_settings, storage=open_storage(backend)) as harness:
        flow = new_flow(harness)
        issued = harness.start(flow)
        assert issued.interval == 5
        events: list[PollEvent] = []
        next_poll_at = issued.next_poll_at
        for polls in range(10):
            if polls == 3:
                approve(harness, issued.user_code)
            harness.wait_until(next_poll_at)  # as a driver sleeping until then
            event = harness.poll(flow)
            events.append(event)
            if isinstance(event, TokenIssued):
                break
            next_poll_at = event.next_poll_at
        kinds = [type(e).__name__ for e in events]
        assert kinds == ["AuthorizationPending"] * 3 + ["TokenIssued"]
        assert isinstance(event, TokenIssued)
        token = event.token
        assert token.refresh_token and token.id_token
        assert set(token.scopes) == {"openid", "User.Read"}
        me = harness.send(
            HttpRequest(
                method="GET",
                url=f"{BASE}/v1.0/me",
                headers=[("Authorization", f"Bearer {token.access_token}")],
            )
        )
        assert me.status == 200
        assert b'"displayName":"Alice Example"' in me.body


def test_pair_device_clock_ahead_of_the_server_gets_slow_down_then_recovers(
    harness: Pair,
) -> None:
    flow = new_flow(harness)
    issued = harness.start(flow)
    # The device believes the interval has passed; on the server's clock it has not.
    harness.clock.advance(1)
    first = harness.poll(flow, now=issued.next_poll_at)
    assert isinstance(first, AuthorizationPending)  # the first poll is never throttled
    harness.clock.advance(1)
    second = harness.poll(flow, now=first.next_poll_at)
    assert isinstance(second, SlowDown)
    assert second.interval == flow.interval == 10
    # From here the device and the server agree on the time: the longer interval is kept.
    harness.wait_until(second.next_poll_at)
    third = harness.poll(flow)
    assert isinstance(third, AuthorizationPending)
    approve(harness, issued.user_code)
    harness.wait_until(third.next_poll_at)
    assert isinstance(harness.poll(flow), TokenIssued)
    errors = [response.body for _, response in harness.sent if response.status == 400]
    assert [b'"slow_down"' in body for body in errors] == [False, True, False]


def test_pair_refresh_rotates_and_the_old_refresh_token_is_refused(harness: Pair) -> None:
    flow = new_flow(harness)
    issued = harness.start(flow)
    approve(harness, issued.user_code)
    harness.wait_until(issued.next_poll_at)
    event = harness.poll(flow)
    assert isinstance(event, TokenIssued)
    first = event.token
    renewed = harness.refresh(flow.endpoints, CLIENT_ID, first)
    assert renewed.access_token != first.access_token
    assert renewed.refresh_token and renewed.refresh_token != first.refresh_token
    with pytest.raises(InvalidGrantError):
        harness.refresh(flow.endpoints, CLIENT_ID, first)


def test_pair_denied_request_ends_the_flow_with_access_denied(harness: Pair) -> None:
    flow = new_flow(harness)
    issued = harness.start(flow)
    approve(harness, issued.user_code, approve=False)
    harness.wait_until(issued.next_poll_at)
    with pytest.raises(AccessDeniedError):
        harness.poll(flow)
    assert flow.state == ERROR


def test_pair_code_expired_on_the_server_clock_is_expired_token(harness: Pair) -> None:
    flow = new_flow(harness)
    issued = harness.start(flow)
    # The device's clock lags: it still has time, the server's code has expired.
    harness.wait_until(issued.expires_at + 1)
    with pytest.raises(ExpiredTokenError) as info:
        harness.poll(flow, now=issued.next_poll_at)
    assert info.value.status == 400
    assert flow.state == ERROR
