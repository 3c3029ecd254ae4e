"""Security leftovers of the token side: who may revoke (RFC 7009 §2.1), how many wrong client
secrets are hashed (bounded like password guesses), and what introspection (RFC 7662 §2.2) says
about revoked sessions. Engines run on SQLite storage with an injected clock."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import pytest

from deviceflow.server.grant import GrantEngine, GrantError, IssuedTokens
from deviceflow.server.grant._clients import ClientAuthenticator
from deviceflow.server.security import RateLimiter, hash_password, verify_password
from deviceflow.server.settings import AZURE_CLI_CLIENT_ID, DEMO_CLIENT_ID, Client, Settings
from deviceflow.server.storage.base import Storage
from tests.support.clock import FakeClock
from tests.support.grant import approve, redeem, start, tenant_of
from tests.support.grant_fixtures import EngineFactory

SERVICE = "report-service"
SECRET = "Sx9-kQ2vWm7pL0zR4tB8nC6yH1jF3gAe5dUo_Iq"
HASHED = hash_password(SECRET)
OTHER = "billing-service"


@pytest.fixture
def engine(
    engine_factory: EngineFactory,
    dev_settings: Settings,
    storage_factory: Callable[[str], Storage],
) -> GrantEngine:
    services = tuple(
        Client(
            client_id=name,
            public=False,
            secret_hash=HASHED,
            scopes=("openid", "offline_access", "User.Read"),
        )
        for name in (SERVICE, OTHER)
    )
    limits = dataclasses.replace(
        dev_settings.rate_limits, sign_in_failures=3, sign_in_address_failures=5
    )
    return engine_factory(
        dataclasses.replace(dev_settings, clients=(*dev_settings.clients, *services)),
        storage=storage_factory("sqlite"),
        rate_limits=limits,
    )


def signed_in(engine: GrantEngine) -> IssuedTokens:
    auth = start(engine, "openid offline_access User.Read")
    approve(engine, auth.user_code)
    return redeem(engine, auth.device_code)


def refused(call: Callable[..., object], **kw: object) -> GrantError:
    with pytest.raises(GrantError) as info:
        call(**kw)
    return info.value


# -- 1. revocation names its client ---------------------------------------------------------------


def test_revocation_naming_no_client_is_invalid_client_and_revokes_nothing(
    engine: GrantEngine,
) -> None:
    tokens = signed_in(engine)
    tenant = tenant_of(engine)
    for token in (tokens.access_token, tokens.refresh_token or ""):
        for named in (None, "", "no-such-client"):
            error = refused(engine.revoke, tenant=tenant, token=token, client_id=named)
            assert (error.error, error.status, error.reason) == (
                "invalid_client",
                401,
                "unknown_client",
            )
    engine.verify_access_token(tokens.access_token)
    engine.refresh(
        tenant=tenant,
        client_id=DEMO_CLIENT_ID,
        refresh_token=tokens.refresh_token or "",
        scope=None,
        ip="192.0.2.1",
    )


def test_revocation_by_another_client_is_refused_and_revokes_nothing(engine: GrantEngine) -> None:
    tokens = signed_in(engine)
    tenant = tenant_of(engine)
    for token in (tokens.access_token, tokens.refresh_token or ""):
        error = refused(engine.revoke, tenant=tenant, token=token, client_id=AZURE_CLI_CLIENT_ID)
        assert error.error == "unauthorized_client"
    engine.verify_access_token(tokens.access_token)
    engine.revoke(tenant=tenant, token=tokens.access_token, client_id=DEMO_CLIENT_ID)
    assert refused(lambda: engine.verify_access_token(tokens.access_token)).error == (
        "invalid_token"
    )


# -- 2. wrong client secrets are limited before hashing -------------------------------------------


def test_wrong_secrets_are_limited_per_client_then_even_the_right_one_waits(
    engine: GrantEngine, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = tenant_of(engine)

    def authorize(secret: str) -> object:
        return engine.device.authorize(
            tenant=tenant,
            client_id=SERVICE,
            scope="openid",
            resource=None,
            device_ip="192.0.2.10",
            user_agent=None,
            client_secret=secret,
        )

    for _ in range(3):  # sign_in_failures
        assert refused(lambda: authorize("wrong")).reason == "client_secret_invalid"
    events = [r.audit for r in caplog.records if hasattr(r, "audit")]
    lockouts = [e for e in events if e["event"] == "client_secret_lockout"]
    assert [(e["client_id"], e["limits"]) for e in lockouts] == [
        (SERVICE, ["client_secret_client"])
    ]
    throttled = refused(lambda: authorize(SECRET))
    assert (throttled.error, throttled.status, throttled.reason) == (
        "invalid_client",
        401,
        "client_secret_throttled",
    )
    assert throttled.retry_after is not None and 0 < throttled.retry_after <= 900
    # Another confidential client is not locked by this one's failures.
    engine.device.authorize(
        tenant=tenant,
        client_id=OTHER,
        scope="openid",
        resource=None,
        device_ip="192.0.2.10",
        user_agent=None,
        client_secret=SECRET,
    )
    clock.advance(throttled.retry_after)
    authorize(SECRET)
    assert SECRET not in caplog.text


def test_a_right_secret_takes_its_attempt_back_and_stays_usable_when_remembered(
    engine: GrantEngine,
) -> None:
    tenant = tenant_of(engine)

    def introspect(secret: str) -> object:
        return engine.introspect(
            tenant=tenant, token="x", client_id=SERVICE, client_secret=secret, ip="192.0.2.7"
        )

    for _ in range(10):  # right secrets never use the limit up
        introspect(SECRET)
    for _ in range(3):
        assert refused(lambda: introspect("wrong")).reason == "client_secret_invalid"
    assert refused(lambda: introspect("wrong")).reason == "client_secret_throttled"
    # The secret this process already checked still passes: a flood does not cut it off.
    assert introspect(SECRET) == {"active": False}


def test_wrong_secrets_are_limited_per_address_across_clients(engine: GrantEngine) -> None:
    tenant = tenant_of(engine)

    def revoke(client_id: str, secret: str, ip: str) -> GrantError:
        return refused(
            lambda: engine.revoke(
                tenant=tenant, token="x", client_id=client_id, client_secret=secret, ip=ip
            )
        )

    for client_id in (SERVICE, SERVICE, OTHER, OTHER, SERVICE):  # 5 from one address
        assert revoke(client_id, "wrong", "198.51.100.9").reason == "client_secret_invalid"
    assert revoke(OTHER, SECRET, "198.51.100.9").reason == "client_secret_throttled"
    assert revoke(OTHER, "wrong", "2001:db8::1").reason == "client_secret_invalid"  # elsewhere


# -- 3. introspection of revoked sessions ---------------------------------------------------------


def introspect(engine: GrantEngine, token: str) -> dict[str, object]:
    return engine.introspect(
        tenant=tenant_of(engine), token=token, client_id=SERVICE, client_secret=SECRET
    )


def test_introspection_reports_tokens_of_revoked_user_sessions_inactive(
    engine: GrantEngine, clock: FakeClock
) -> None:
    tokens = signed_in(engine)
    assert introspect(engine, tokens.refresh_token or "")["active"] is True
    assert introspect(engine, tokens.access_token)["active"] is True
    clock.advance(5)
    engine.cae.revoke_sessions(tokens.user.id)  # Graph's revokeSignInSessions
    assert introspect(engine, tokens.refresh_token or "") == {"active": False}
    assert introspect(engine, tokens.access_token) == {"active": False}
    clock.advance(1)
    fresh = signed_in(engine)  # a sign-in after the revocation is live
    assert introspect(engine, fresh.refresh_token or "")["active"] is True
    assert introspect(engine, fresh.access_token)["active"] is True


def test_introspection_reports_tokens_of_a_revoked_device_session_inactive(
    engine: GrantEngine,
) -> None:
    tokens, other = signed_in(engine), signed_in(engine)
    session = engine.sessions.of_user(tokens.user.id)
    assert engine.sessions.revoke(tokens.user.id, _family(engine, tokens), by="admin")
    assert len(engine.sessions.of_user(tokens.user.id)) == len(session) - 1
    assert introspect(engine, tokens.refresh_token or "") == {"active": False}
    assert introspect(engine, tokens.access_token) == {"active": False}
    assert introspect(engine, other.access_token)["active"] is True


def _family(engine: GrantEngine, tokens: IssuedTokens) -> str:
    return str(engine.verify_access_token(tokens.access_token)["sid"])


def test_past_the_limit_no_secret_is_hashed(
    dev_settings: Settings, clock: FakeClock, storage_factory: Callable[[str], Storage]
) -> None:
    client = Client(client_id=SERVICE, public=False, secret_hash=HASHED)
    settings = dataclasses.replace(dev_settings, clients=(*dev_settings.clients, client))
    hashed: list[str] = []

    def verify(password_hash: str | None, secret: str) -> bool:
        hashed.append(secret)
        return verify_password(password_hash, secret)

    auth = ClientAuthenticator(
        lambda: settings, verify=verify, limiter=RateLimiter(storage_factory("sqlite"), clock)
    )
    tenant = settings.tenants[0]
    flood = [
        refused(auth.client, tenant=tenant, client_id=SERVICE, secret=f"guess-{n}", ip="192.0.2.66")
        for n in range(50)
    ]
    limit = settings.rate_limits.sign_in_failures
    assert [e.reason for e in flood].count("client_secret_invalid") == limit
    assert len(hashed) == limit  # the other guesses cost no argon2 check


def test_a_person_or_admin_revokes_only_that_person_s_sessions(engine: GrantEngine) -> None:
    adele = signed_in(engine)
    auth = start(engine, "openid offline_access User.Read")
    approve(engine, auth.user_code, username="megan")
    megan = redeem(engine, auth.device_code)
    megans_session = _family(engine, megan)
    for by in ("user", "admin"):  # the "your devices" page and `deviceflow admin sessions`
        assert engine.sessions.revoke(adele.user.id, megans_session, by=by) is False
    assert introspect(engine, megan.refresh_token or "")["active"] is True
    assert [s.id for s in engine.sessions.of_user(megan.user.id)] == [megans_session]
