"""Anti-phishing policy: proximity, protocol-tracked token limits, and the device-flow switch
(checklist 12, 13, 14, 20; docs/security.md).

Policy is set per tenant and tightened per client. Changing the configuration (here: a new app on
the same storage, as a restart with a new file) applies to flows and sessions already running.
"""

from __future__ import annotations

import pytest

from deviceflow.server.grant._policy import same_network
from tests.hardening import figures
from tests.hardening.server.harness import TRUSTED, GuardedHarness, claims_of, guarded, with_tenant
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio

DEVICE, ELSEWHERE = "192.0.2.10", "198.51.100.7"


async def test_warn_mode_shows_a_strong_warning_from_another_network(
    server: GuardedHarness, audit_events: list[dict[str, object]]
) -> None:
    started = await server.authorize(client_id="warn-lamp", ip=DEVICE)
    _, confirm = await server.confirm_page(started["user_code"], ip=ELSEWHERE)
    assert confirm.status_code == 200
    assert "network-warning" in confirm.text and "different network" in confirm.text
    assert any(e["event"] == "proximity_mismatch" and e["action"] == "warn" for e in audit_events)
    # A warning, not a block: the user may still approve.
    approved = await server.approve(started["user_code"], ip=ELSEWHERE)
    assert approved.status_code == 200 and "Device approved" in approved.text


async def test_warn_mode_is_silent_on_the_same_network(server: GuardedHarness) -> None:
    started = await server.authorize(client_id="warn-lamp", ip=DEVICE)
    _, confirm = await server.confirm_page(started["user_code"], ip=DEVICE)
    assert confirm.status_code == 200 and "network-warning" not in confirm.text


@pytest.mark.parametrize(
    ("client_id", "tenant", "device", "browser", "allowed"),
    [
        pytest.param("near-lamp", "contoso", DEVICE, DEVICE, True, id="client-block-same-ip"),
        pytest.param("near-lamp", "contoso", DEVICE, ELSEWHERE, False, id="client-block-other-ip"),
        pytest.param(
            "near-lamp", "contoso", "10.20.1.5", "10.20.99.1", True, id="client-block-subnet"
        ),
        pytest.param(
            "near-lamp", "contoso", "10.20.1.5", "10.21.0.1", False, id="client-block-other-16"
        ),
        pytest.param("hardening-lamp", "guarded", DEVICE, ELSEWHERE, False, id="tenant-block"),
        pytest.param("hardening-lamp", "guarded", "::1", "::1", True, id="tenant-block-same-v6"),
    ],
)
async def test_block_mode_refuses_approvers_off_the_device_network(
    server: GuardedHarness, client_id: str, tenant: str, device: str, browser: str, allowed: bool
) -> None:
    started = await server.authorize(tenant, client_id=client_id, ip=device)
    result = await server.approve_after_entry(started["user_code"], tenant=tenant, ip=browser)
    if allowed:
        assert result.status_code == 200 and "Device approved" in result.text
    else:
        assert result.status_code == 403
        assert "Approve from the device" in result.text
        server.clock.advance(5)
        poll = await server.poll(started["device_code"], tenant, client_id=client_id)
        assert poll.json()["error"] == "authorization_pending"


async def test_block_mode_rechecks_the_network_at_the_decision(server: GuardedHarness) -> None:
    started = await server.authorize(client_id="near-lamp", ip=DEVICE)
    browser, confirm = await server.confirm_page(started["user_code"], ip=DEVICE)
    assert confirm.status_code == 200
    moved = server.client(ELSEWHERE)  # same session cookie, another network
    moved.cookies = browser.cookies
    form = {"csrf_token": csrf_of(confirm.text), "code": started["user_code"]}
    refused = await moved.post("/devicelogin/decide", data={**form, "decision": "approve"})
    assert refused.status_code == 403
    # Nothing was decided: back on the device's network the user can still deny.
    denied = await browser.post("/devicelogin/decide", data={**form, "decision": "deny"})
    assert denied.status_code == 200 and "Access denied" in denied.text


def test_same_network_rules() -> None:
    import ipaddress

    nets = (ipaddress.ip_network(TRUSTED),)
    assert same_network("192.0.2.1", "192.0.2.1")
    assert same_network("::ffff:192.0.2.1", "192.0.2.1")
    assert same_network("10.20.0.1", "10.20.255.254", nets)
    assert not same_network("10.20.0.1", "10.21.0.1", nets)
    assert not same_network("unknown", "unknown")


async def test_device_flow_tokens_are_marked_and_shortened(server: GuardedHarness) -> None:
    tokens = await server.tokens(client_id="short-lamp", scope="openid offline_access User.Read")
    claims = claims_of(tokens["access_token"])
    assert claims["origin"] == "device_code"
    assert tokens["expires_in"] == 600 and claims["exp"] - claims["iat"] == 600
    refreshed = (await server.refresh(tokens["refresh_token"], client_id="short-lamp")).json()
    assert refreshed["expires_in"] == 600
    assert claims_of(refreshed["access_token"])["origin"] == "device_code"
    answer = await server.introspect(refreshed["access_token"])
    assert answer["active"] is True and answer["origin"] == "device_code"
    # The ordinary client keeps the default lifetime.
    plain = await server.tokens()
    assert plain["expires_in"] == 3600


async def test_scopes_outside_the_device_flow_allow_list_are_refused(
    server: GuardedHarness,
) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/devicecode",
        data={"client_id": "short-lamp", "scope": "openid Presence.Read"},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    ("tenant", "client_id", "error", "code"),
    [
        pytest.param("closed", "hardening-lamp", "unauthorized_client", None, id="rfc-tenant"),
        pytest.param("closed-ms", "hardening-lamp", "invalid_grant", 53003, id="microsoft-tenant"),
        pytest.param("contoso", "no-device", "unauthorized_client", None, id="rfc-client"),
    ],
)
async def test_device_flow_switched_off_is_refused(
    server: GuardedHarness, tenant: str, client_id: str, error: str, code: int | None
) -> None:
    response = await server.client().post(
        f"/{tenant}/oauth2/v2.0/devicecode", data={"client_id": client_id, "scope": "openid"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == error
    if code is not None:
        assert body["error_codes"] == [code]
        assert body["error_description"].startswith(f"AADSTS{code}")


async def test_switching_the_flow_off_stops_flows_already_started(
    server: GuardedHarness,
) -> None:
    started = await server.authorize()
    assert (await server.approve(started["user_code"])).status_code == 200
    async with guarded(
        with_tenant("contoso", device_flow=False), server.storage, server.clock
    ) as flipped:
        flipped.clock.advance(5)
        response = await flipped.poll(started["device_code"])
        assert response.json()["error"] == "unauthorized_client"


async def test_policy_flip_blocks_refresh_of_device_sessions(server: GuardedHarness) -> None:
    tokens = await server.tokens("fabrikam")
    async with guarded(
        with_tenant("fabrikam", device_code_refresh=False), server.storage, server.clock
    ) as flipped:
        response = await flipped.refresh(tokens["refresh_token"], "fabrikam")
        assert response.json()["error"] == "invalid_grant"
        assert response.json()["error_codes"] == [53003]


async def test_policy_flip_narrows_scopes_at_the_next_refresh(server: GuardedHarness) -> None:
    tokens = await server.tokens(scope="openid profile offline_access User.Read")
    async with guarded(
        with_tenant("contoso", device_scopes=["openid", "offline_access"]),
        server.storage,
        server.clock,
    ) as flipped:
        refreshed = (await flipped.refresh(tokens["refresh_token"])).json()
        assert refreshed["scope"] == "openid"
        assert claims_of(refreshed["access_token"])["scp"] == "openid"
    figures.record(
        "Anti-phishing policy",
        "policy flips applied to running sessions",
        flips=3,
        honoured=3,
    )
