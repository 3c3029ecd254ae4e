"""Shared helpers for the grant-engine tests: start, poll and decide on one engine.

The engine comes from the ``engine_factory`` fixture (:mod:`tests.support.grant_fixtures`).
"""

from __future__ import annotations

from deviceflow.server.grant import (
    DeviceAuthorization,
    GrantEngine,
    GrantError,
    IssuedTokens,
    PollOutcome,
)
from deviceflow.server.settings import DEMO_CLIENT_ID, Tenant

#: Where the grant-engine tests' clock starts.
T0 = 1_700_000_000.0


def tenant_of(engine: GrantEngine) -> Tenant:
    return engine.settings.tenants[0]


def start(
    engine: GrantEngine,
    scope: str | None = "openid profile offline_access User.Read",
    *,
    client_id: str = DEMO_CLIENT_ID,
    resource: str | None = None,
    device_ip: str = "192.0.2.10",
) -> DeviceAuthorization:
    return engine.device.authorize(
        tenant=tenant_of(engine),
        client_id=client_id,
        scope=scope,
        resource=resource,
        device_ip=device_ip,
        user_agent="TestTV/1.0",
    )


def poll(
    engine: GrantEngine,
    device_code: str,
    *,
    ip: str = "192.0.2.10",
    client_id: str = DEMO_CLIENT_ID,
) -> PollOutcome:
    return engine.device.poll(
        tenant=tenant_of(engine), client_id=client_id, device_code=device_code, ip=ip
    )


def redeem(engine: GrantEngine, device_code: str, **kw: str) -> IssuedTokens:
    """Poll once; the poll must be answered with tokens."""
    outcome = poll(engine, device_code, **kw)
    assert isinstance(outcome, IssuedTokens), outcome
    return outcome


def answer(engine: GrantEngine, device_code: str, **kw: str) -> str:
    """The OAuth error code a poll is answered with (``"tokens"`` for tokens)."""
    try:
        outcome = poll(engine, device_code, **kw)
    except GrantError as exc:
        return exc.error
    return "tokens" if isinstance(outcome, IssuedTokens) else outcome.error().error


def approve(
    engine: GrantEngine,
    user_code: str,
    *,
    approve: bool = True,
    username: str = "adele",
    tenant: Tenant | None = None,
) -> None:
    """The person's decision on the verification page, as ``username`` of ``tenant`` (default:
    the first tenant)."""
    user = engine.settings.user(tenant or tenant_of(engine), username)
    assert user is not None
    engine.verification.decide(
        user_code=user_code,
        approve=approve,
        user=user,
        ip="198.51.100.7",
        session="browser-1",
        user_agent="Phone",
    )
