"""Polling, slow_down, approval, denial, expiry and one-time redemption (RFC 8628 §3.4, §3.5)."""

from __future__ import annotations

import dataclasses

import pytest

from deviceflow.server.grant import (
    AUTHORIZATION_PENDING,
    SLOW_DOWN_STEP,
    GrantError,
    SlowDown,
    VerificationError,
)
from deviceflow.server.settings import AZURE_CLI_CLIENT_ID, Client, Settings
from tests.support.clock import FakeClock
from tests.support.grant import answer, approve, poll, redeem, start
from tests.support.grant_fixtures import EngineFactory


def error_of(call: object) -> GrantError:
    assert callable(call)
    with pytest.raises(GrantError) as info:
        call()
    return info.value


def test_authorize_device_returns_defaults(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    auth = start(engine)
    assert (auth.expires_in, auth.interval) == (900, 5)
    # The development tenant speaks the Microsoft dialect: Entra-style codes (BPPVYQZMA).
    assert len(auth.user_code) == 9 and auth.user_code.isalnum()
    assert len(auth.device_code) >= 43  # 256 bits, base64url
    assert auth.device_code not in repr(auth) and auth.user_code not in repr(auth)


def test_poll_before_approval_is_pending(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    auth = start(engine)
    outcome = poll(engine, auth.device_code)  # an answer, not an exception
    assert outcome is AUTHORIZATION_PENDING
    err = outcome.error()
    assert (err.error, err.status, err.reason, err.retry_after) == (
        "authorization_pending",
        400,
        "pending",
        None,
    )


def test_poll_after_approval_issues_tokens_once(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    auth = start(engine)
    approve(engine, auth.user_code)
    tokens = redeem(engine, auth.device_code)
    assert tokens.user.username == "adele"
    assert tokens.origin == "device_code" and tokens.grant_type == "device_code"
    assert tokens.refresh_token and tokens.id_token
    err = error_of(lambda: poll(engine, auth.device_code))
    assert (err.error, err.reason) == ("invalid_grant", "code_redeemed")


def test_second_redemption_revokes_the_first_tokens(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    auth = start(engine)
    approve(engine, auth.user_code)
    tokens = redeem(engine, auth.device_code)
    assert engine.verify_access_token(tokens.access_token)["oid"] == tokens.user.id
    error_of(lambda: poll(engine, auth.device_code))
    assert (
        error_of(lambda: engine.verify_access_token(tokens.access_token)).error == "invalid_token"
    )
    assert tokens.refresh_token is not None
    err = error_of(
        lambda: engine.refresh(
            tenant=tokens.tenant,
            client_id=tokens.client.client_id,
            refresh_token=tokens.refresh_token or "",
            scope=None,
            ip="x",
        )
    )
    assert err.error == "invalid_grant"


def test_deny_makes_next_poll_access_denied_and_kills_the_code(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory()
    auth = start(engine)
    approve(engine, auth.user_code, approve=False)
    assert answer(engine, auth.device_code) == "access_denied"
    with pytest.raises(VerificationError) as info:
        approve(engine, auth.user_code)
    assert info.value.kind == "used"


def test_second_approver_cannot_replace_the_subject(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    auth = start(engine)
    approve(engine, auth.user_code, username="adele")
    with pytest.raises(VerificationError) as info:
        approve(engine, auth.user_code, username="megan")
    assert info.value.kind == "used"
    assert redeem(engine, auth.device_code).user.username == "adele"


def test_expired_code_refuses_approval_and_poll(
    engine_factory: EngineFactory, clock: FakeClock
) -> None:
    engine = engine_factory()
    auth = start(engine)
    clock.advance(900)
    with pytest.raises(VerificationError) as info:
        approve(engine, auth.user_code)
    assert info.value.kind == "expired"
    err = error_of(lambda: poll(engine, auth.device_code))
    assert (err.error, err.reason) == ("expired_token", "expired")


def test_approved_but_unredeemed_code_expires(
    engine_factory: EngineFactory, clock: FakeClock
) -> None:
    engine = engine_factory()
    auth = start(engine)
    approve(engine, auth.user_code)
    clock.advance(901)
    assert answer(engine, auth.device_code) == "expired_token"


def test_user_disabled_after_approval_gets_no_tokens(
    engine_factory: EngineFactory, dev_settings: Settings
) -> None:
    engine = engine_factory()
    auth = start(engine)
    approve(engine, auth.user_code)
    users = tuple(dataclasses.replace(u, enabled=False) for u in dev_settings.users)
    engine.settings = dataclasses.replace(dev_settings, users=users)
    err = error_of(lambda: poll(engine, auth.device_code))
    assert (err.error, err.reason) == ("invalid_grant", "user_disabled")


def test_device_code_of_another_client_is_unknown(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    auth = start(engine)
    approve(engine, auth.user_code)
    assert answer(engine, auth.device_code, client_id=AZURE_CLI_CLIENT_ID) == "invalid_grant"
    assert redeem(engine, auth.device_code).user.username == "adele"


def test_unknown_device_codes_are_capped_per_ip(
    engine_factory: EngineFactory, clock: FakeClock
) -> None:
    engine = engine_factory()
    limit = engine.settings.rate_limits.unknown_device_code_polls
    for n in range(limit):
        guess = f"guess-{n}"
        assert answer(engine, guess, ip="203.0.113.9") == "invalid_grant"
    err = error_of(lambda: poll(engine, "guess-x", ip="203.0.113.9"))
    assert (err.error, err.status) == ("rate_limited", 429)
    assert err.retry_after is not None and 0 < err.retry_after <= 900
    # another IP is not affected, and the cap lifts after the window
    assert answer(engine, "guess-y", ip="203.0.113.10") == "invalid_grant"
    clock.advance(900)
    assert answer(engine, "guess-z", ip="203.0.113.9") == "invalid_grant"


# -- slow_down -----------------------------------------------------------------------------


def test_unknown_device_codes_are_capped_per_ipv6_64(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    limit = engine.settings.rate_limits.unknown_device_code_polls
    for n in range(limit):
        assert answer(engine, f"guess-{n}", ip=f"2001:db8:a:b::{n + 1:x}") == "invalid_grant"
    err = error_of(lambda: poll(engine, "guess-x", ip="2001:db8:a:b:1::1"))
    assert (err.error, err.status) == ("rate_limited", 429)
    assert answer(engine, "guess-y", ip="2001:db8:a:c::1") == "invalid_grant"  # another /64


def test_first_poll_is_never_throttled(
    engine_factory: EngineFactory, rfc_settings: Settings
) -> None:
    engine = engine_factory(rfc_settings)
    auth = start(engine)
    assert poll(engine, auth.device_code) is AUTHORIZATION_PENDING


def test_early_poll_gets_slow_down_and_interval_grows(
    engine_factory: EngineFactory, rfc_settings: Settings, clock: FakeClock
) -> None:
    engine = engine_factory(rfc_settings)
    auth = start(engine)
    assert poll(engine, auth.device_code) is AUTHORIZATION_PENDING
    clock.advance(1)
    first = poll(engine, auth.device_code)
    assert first == SlowDown(interval=5 + SLOW_DOWN_STEP)
    err = first.error()
    assert (err.error, err.status, err.description) == (
        "slow_down",
        400,
        "poll at most every 10 seconds",
    )
    clock.advance(5)  # 6 s after the accepted poll: enough for 5 s, not for the new 10 s
    assert poll(engine, auth.device_code) == SlowDown(interval=5 + 2 * SLOW_DOWN_STEP)
    clock.advance(15)  # the client honours the 15 s interval
    assert poll(engine, auth.device_code) is AUTHORIZATION_PENDING


def test_honest_client_recovers_after_slow_down(
    engine_factory: EngineFactory, rfc_settings: Settings, clock: FakeClock
) -> None:
    engine = engine_factory(rfc_settings)
    auth = start(engine)
    poll(engine, auth.device_code)
    clock.advance(1)
    assert answer(engine, auth.device_code) == "slow_down"
    results = []
    for _ in range(10):
        clock.advance(10)
        results.append(answer(engine, auth.device_code))
    assert set(results) == {"authorization_pending"}


@pytest.mark.parametrize("jitter", [-0.5, 0.5, -0.4, 0.3])
def test_network_jitter_never_yields_endless_slow_down(
    engine_factory: EngineFactory, rfc_settings: Settings, clock: FakeClock, jitter: float
) -> None:
    engine = engine_factory(rfc_settings)
    auth = start(engine)
    outcomes = []
    for n in range(12):
        clock.advance(5 + (jitter if n % 2 else -jitter))
        outcomes.append(answer(engine, auth.device_code))
    assert outcomes.count("slow_down") == 0


def test_microsoft_dialect_does_not_send_slow_down(
    engine_factory: EngineFactory, clock: FakeClock
) -> None:
    engine = engine_factory()
    auth = start(engine)
    for _ in range(5):
        clock.advance(0.2)
        assert poll(engine, auth.device_code) is AUTHORIZATION_PENDING


def test_tenant_switch_turns_slow_down_on(
    engine_factory: EngineFactory, dev_settings: Settings, clock: FakeClock
) -> None:
    tenant = dataclasses.replace(dev_settings.tenants[0], slow_down=True)
    engine = engine_factory(dataclasses.replace(dev_settings, tenants=(tenant,)))
    auth = start(engine)
    poll(engine, auth.device_code)
    clock.advance(1)
    assert answer(engine, auth.device_code) == "slow_down"


# -- client policy and scopes (checklist 13) -------------------------------------------------


@pytest.mark.parametrize(
    ("client", "error", "reason"),
    [
        pytest.param(None, "invalid_client", "unknown_client", id="unknown"),
        pytest.param(
            Client(client_id="conf", public=False),
            "invalid_client",
            "public_flows_disabled",
            id="confidential",
        ),
        pytest.param(
            Client(client_id="nodev", device_flow_enabled=False),
            "unauthorized_client",
            None,
            id="no-grant",
        ),
        pytest.param(
            Client(client_id="other", tenants=("elsewhere",)),
            "invalid_client",
            "unknown_client",
            id="tenant",
        ),
    ],
)
def test_client_policy_is_enforced(
    engine_factory: EngineFactory,
    dev_settings: Settings,
    client: Client | None,
    error: str,
    reason: str | None,
) -> None:
    clients = dev_settings.clients + ((client,) if client else ())
    engine = engine_factory(dataclasses.replace(dev_settings, clients=clients))
    client_id = client.client_id if client else "nobody"
    err = error_of(lambda: start(engine, client_id=client_id))
    assert (err.error, err.reason) == (error, reason)


@pytest.mark.parametrize(
    ("scope", "resource", "granted"),
    [
        pytest.param("openid User.Read", None, ("openid", "User.Read"), id="plain"),
        pytest.param("https://graph.microsoft.com/User.Read", None, ("User.Read",), id="prefixed"),
        pytest.param(
            "https://graph.microsoft.com/.default openid",
            None,
            ("User.Read", "Presence.Read", "openid"),
            id="default",
        ),
        pytest.param(
            None,
            "https://graph.microsoft.com",
            ("User.Read", "Presence.Read", "openid", "profile", "offline_access"),
            id="v1-resource",
        ),
        pytest.param(None, None, None, id="all-allowed"),
    ],
)
def test_scopes_are_resolved_against_the_allow_list(
    engine_factory: EngineFactory,
    scope: str | None,
    resource: str | None,
    granted: tuple[str, ...] | None,
) -> None:
    engine = engine_factory()
    auth = start(engine, scope, resource=resource)
    pending = engine.verification.lookup_user_code(
        user_code=auth.user_code, ip="1.1.1.1", session="s"
    )
    assert pending.scopes == (granted or pending.client.scopes)


@pytest.mark.parametrize(
    "scope", ["Mail.Read", "https://graph.microsoft.com/Mail.Send", "api://x/.default"]
)
def test_scope_outside_the_allow_list_is_invalid_scope(
    engine_factory: EngineFactory, scope: str
) -> None:
    engine = engine_factory()
    assert error_of(lambda: start(engine, scope)).error == "invalid_scope"


def test_user_code_collision_with_live_code_is_retried(
    engine_factory: EngineFactory, rfc_settings: Settings
) -> None:
    # The first two requests draw the same user-code bytes; the second must get another code.
    script = [b"\x01" * 32, b"\x00" * 16, b"\x02" * 32, b"\x00" * 16, b"\x03" * 32, b"\x05" * 16]
    feed = iter(script)
    engine = engine_factory(
        rfc_settings,
        rng=lambda n: next(feed)[:n].ljust(n, b"\x07"),
        secret_key="fixed-test-key-0123456789-abcdefgh",
    )
    first = start(engine)
    second = start(engine)
    assert first.user_code == "BBBB-BBBB"
    assert second.user_code == "HHHH-HHHH"
