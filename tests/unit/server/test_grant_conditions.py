"""Emulated sign-in conditions (grant/_conditions.py) and how each dialect spells them."""

from __future__ import annotations

import dataclasses

import pytest

from deviceflow.server.dialects.microsoft import MicrosoftDialect
from deviceflow.server.dialects.rfc8628 import Rfc8628Dialect
from deviceflow.server.grant import GrantEngine, GrantError, Reason
from deviceflow.server.grant._conditions import Conditions
from deviceflow.server.settings import Settings, SettingsError
from deviceflow.server.storage.memory import MemoryStorage
from tests.support.clock import FakeClock
from tests.support.grant import T0, approve, poll, start
from tests.support.grant_fixtures import EngineFactory

from .test_grant_tokens import refresh, refresh_error, signed_in


def with_tenant(settings: Settings, **changes: object) -> Settings:
    tenant = dataclasses.replace(settings.tenants[0], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(settings, tenants=(tenant, *settings.tenants[1:]))


def with_users(settings: Settings, **changes: object) -> Settings:
    users = tuple(dataclasses.replace(u, **changes) for u in settings.users)  # type: ignore[arg-type]
    return dataclasses.replace(settings, users=users)


def with_clients(settings: Settings, **changes: object) -> Settings:
    clients = tuple(dataclasses.replace(c, **changes) for c in settings.clients)  # type: ignore[arg-type]
    return dataclasses.replace(settings, clients=clients)


@pytest.mark.parametrize(
    ("switch", "reason", "aadsts"),
    [
        pytest.param("sign_in_frequency", "sign_in_frequency", 70043, id="70043"),
        pytest.param("mfa_required_from", "mfa_required", 50076, id="50076"),
        pytest.param("sessions_valid_from", "sessions_revoked", 50173, id="50173"),
        pytest.param("consent_required", "consent_required", 65001, id="65001"),
    ],
)
def test_condition_refuses_refresh_in_each_dialect(
    engine_factory: EngineFactory,
    dev_settings: Settings,
    clock: FakeClock,
    switch: str,
    reason: Reason,
    aadsts: int,
) -> None:
    engine = engine_factory()
    token = refresh(engine, signed_in(engine).refresh_token).refresh_token  # healthy before
    clock.advance(3600)
    if switch == "sign_in_frequency":
        engine.settings = with_tenant(dev_settings, sign_in_frequency=1800)
    elif switch == "mfa_required_from":
        engine.settings = with_tenant(dev_settings, mfa_required_from=clock.now - 1)
    elif switch == "sessions_valid_from":
        engine.settings = with_users(dev_settings, sessions_valid_from=clock.now - 1)
    else:
        engine.settings = with_clients(dev_settings, consent_required=True)
    err = refresh_error(engine, token)
    assert (err.error, err.reason) == ("invalid_grant", reason)

    ms = MicrosoftDialect().error_body(err.error, err.description, reason=err.reason)
    assert ms["error"] == "invalid_grant"
    assert ms["error_codes"] == [aadsts]
    assert ms["error_description"].startswith(f"AADSTS{aadsts}: ")
    rfc = Rfc8628Dialect().error_body(err.error, err.description, reason=err.reason)
    assert rfc == {"error": "invalid_grant", "error_description": err.description}
    assert "AADSTS" not in rfc["error_description"]


def test_sign_in_frequency_judges_the_sign_in_not_the_last_refresh(
    engine_factory: EngineFactory, dev_settings: Settings, clock: FakeClock
) -> None:
    engine = engine_factory(with_tenant(dev_settings, sign_in_frequency=100))
    token = signed_in(engine).refresh_token
    clock.advance(60)
    token = refresh(engine, token).refresh_token  # 60 s after the sign-in: fine
    clock.advance(60)  # 60 s after that refresh, but 120 s after the sign-in
    assert refresh_error(engine, token).reason == "sign_in_frequency"


def test_mfa_and_revocation_spare_sign_ins_after_the_date(
    engine_factory: EngineFactory, dev_settings: Settings, clock: FakeClock
) -> None:
    settings = with_users(
        with_tenant(dev_settings, mfa_required_from=T0 + 10), sessions_valid_from=T0 + 10
    )
    engine = engine_factory(settings)
    clock.advance(20)  # a re-link after the policy change passes both conditions
    tokens = signed_in(engine)
    clock.advance(5)
    assert refresh(engine, tokens.refresh_token).refresh_token


def test_consent_required_refuses_the_redemption_too(
    engine_factory: EngineFactory, dev_settings: Settings
) -> None:
    engine: GrantEngine = engine_factory(with_clients(dev_settings, consent_required=True))
    auth = start(engine)
    approve(engine, auth.user_code)
    with pytest.raises(GrantError) as info:
        poll(engine, auth.device_code)
    assert (info.value.error, info.value.reason) == ("invalid_grant", "consent_required")


def test_family_without_recorded_sign_in_uses_its_absolute_cap(dev_settings: Settings) -> None:
    # Families from before sign-ins were recorded: the absolute cap was set at the sign-in.
    settings = with_tenant(dev_settings, sign_in_frequency=100)
    conditions = Conditions(storage=MemoryStorage(), settings=lambda: settings)
    signed_in_at = T0
    cap = signed_in_at + settings.lifetimes.refresh_token_absolute

    def admit(now: float) -> None:
        conditions.admit(
            tenant=settings.tenants[0],
            client=settings.clients[0],
            user=settings.users[0],
            family_id="legacy",
            grant_type="refresh_token",
            now=now,
            absolute_expires_at=cap,
        )

    admit(T0 + 100)
    with pytest.raises(GrantError) as info:
        admit(T0 + 101)
    assert info.value.reason == "sign_in_frequency"


def test_sign_in_frequency_must_be_positive() -> None:
    data = {"tenants": [{"id": "t", "sign_in_frequency": 0}]}
    with pytest.raises(SettingsError, match=r"^tenants\[0\]\.sign_in_frequency: must be positive"):
        Settings.from_mapping(data)
