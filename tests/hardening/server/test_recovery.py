"""Detect and recover (checklist 16, 17): introspection, "revoke everything from this user
code", and the audit trail of each flow step.
"""

from __future__ import annotations

import pytest

from tests.hardening import figures
from tests.hardening.server.harness import (
    LAMP,
    RESOURCE_SERVER,
    GuardedHarness,
    guarded,
    hardening_settings,
)

pytestmark = pytest.mark.anyio


async def test_introspection_is_active_until_revocation(server: GuardedHarness) -> None:
    tokens = await server.tokens()
    access = await server.introspect(tokens["access_token"])
    assert access["active"] is True
    assert access["client_id"] == LAMP and access["token_type"] == "Bearer"
    assert "User.Read" in access["scope"].split() and access["exp"] > access["iat"]
    refresh = await server.introspect(tokens["refresh_token"])
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    revoked = await server.client().post(
        "/contoso/oauth2/v2.0/revoke", data={"token": tokens["access_token"], "client_id": LAMP}
    )
    assert revoked.status_code == 200
    assert await server.introspect(tokens["access_token"]) == {"active": False}
    assert (await server.introspect(tokens["refresh_token"]))["active"] is True
    await server.client().post(
        "/contoso/oauth2/v2.0/revoke", data={"token": tokens["refresh_token"], "client_id": LAMP}
    )
    assert await server.introspect(tokens["refresh_token"]) == {"active": False}


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
async def test_introspection_of_junk_is_inactive_or_invalid_request(
    server: GuardedHarness, token: str
) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/introspect", data={"token": token}, auth=RESOURCE_SERVER
    )
    if token:
        assert response.status_code == 200 and response.json() == {"active": False}
    else:
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_introspection_answers_authenticated_clients_about_their_tenant_only(
    server: GuardedHarness,
) -> None:
    tokens = await server.tokens()
    for token in (tokens["access_token"], tokens["refresh_token"]):
        # Token scanning needs credentials now (RFC 7662 §2.1): naming a client is not enough.
        named = await server.client().post(
            "/contoso/oauth2/v2.0/introspect", data={"token": token, "client_id": LAMP}
        )
        assert named.status_code == 401 and named.json()["error"] == "invalid_client"
        assert await server.introspect(token, tenant="guarded") == {"active": False}


async def test_rotated_refresh_token_is_inactive_in_strict_mode_only(
    server: GuardedHarness,
) -> None:
    tokens = await server.tokens()
    await server.refresh(tokens["refresh_token"])
    assert await server.introspect(tokens["refresh_token"]) == {"active": False}
    async with guarded(hardening_settings(refresh_rotation="microsoft")) as lenient:
        first = await lenient.tokens()
        await lenient.refresh(first["refresh_token"])
        assert (await lenient.introspect(first["refresh_token"]))["active"] is True


async def test_discovery_lists_the_introspection_endpoint(server: GuardedHarness) -> None:
    metadata = (await server.client().get("/contoso/v2.0/.well-known/openid-configuration")).json()
    assert metadata["introspection_endpoint"].endswith("/contoso/oauth2/v2.0/introspect")


async def test_revoking_a_redeemed_user_code_revokes_its_tokens(
    server: GuardedHarness, audit_events: list[dict[str, object]]
) -> None:
    started = await server.authorize()
    assert (await server.approve(started["user_code"])).status_code == 200
    server.clock.advance(5)
    tokens = (await server.poll(started["device_code"])).json()
    refreshed = (await server.refresh(tokens["refresh_token"])).json()
    engine = server.app.state.ctx.engine
    assert engine.revoke_user_code(started["user_code"].lower()) is True
    for token in (tokens["access_token"], refreshed["access_token"], refreshed["refresh_token"]):
        assert await server.introspect(token) == {"active": False}
    assert (await server.refresh(refreshed["refresh_token"])).json()["error"] == "invalid_grant"
    assert [e["event"] for e in audit_events].count("user_code_revoked") == 1
    figures.record(
        "Server under abuse",
        "revoke everything from a phished user code",
        tokens_before=3,
        active_after=0,
    )


@pytest.mark.parametrize("state", ["pending", "approved"])
async def test_revoking_an_open_user_code_kills_the_flow(
    server: GuardedHarness, state: str
) -> None:
    started = await server.authorize()
    if state == "approved":
        assert (await server.approve(started["user_code"])).status_code == 200
    engine = server.app.state.ctx.engine
    assert engine.revoke_user_code(started["user_code"]) is True
    server.clock.advance(5)
    assert (await server.poll(started["device_code"])).json()["error"] == "access_denied"
    late = await server.approve_after_entry(started["user_code"])
    assert late.status_code == 409


@pytest.mark.parametrize("code", ["BCDF-GHJK", "not a code", ""])
async def test_revoking_an_unknown_user_code_reports_false(
    server: GuardedHarness, code: str
) -> None:
    assert server.app.state.ctx.engine.revoke_user_code(code) is False


async def test_each_flow_step_emits_one_audit_event(
    server: GuardedHarness, audit_events: list[dict[str, object]]
) -> None:
    started = await server.authorize()
    await server.approve(started["user_code"])
    server.clock.advance(5)
    tokens = (await server.poll(started["device_code"])).json()
    await server.refresh(tokens["refresh_token"])
    await server.refresh(tokens["refresh_token"])  # reuse
    await server.poll(started["device_code"])  # replay
    names = [e["event"] for e in audit_events]
    for name in ("device_code_issued", "grant_approved", "tokens_redeemed", "sign_in"):
        assert names.count(name) == 1, name
    assert names.count("redemption_replayed") == 1 and names.count("refresh_reuse") == 1
    attempts = [e for e in audit_events if e["event"] == "user_code_attempt"]
    assert attempts and all({"ip", "result", "user_code"} <= e.keys() for e in attempts)
    approved = next(e for e in audit_events if e["event"] == "grant_approved")
    assert {"user_id", "ip", "user_agent"} <= approved.keys()
