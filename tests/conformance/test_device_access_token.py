"""RFC 8628 §3.4 (Device Access Token Request) and §3.5 (Device Access Token Response)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.app_harness import CLIENT_ID, DEVICE_GRANT, Harness

pytestmark = pytest.mark.anyio


@pytest.mark.spec("RFC8628", "3.4")
async def test_device_code_is_required(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/token", data={"grant_type": DEVICE_GRANT, "client_id": CLIENT_ID}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.spec("RFC8628", "3.4")
async def test_client_id_is_required(server: Harness) -> None:
    started = await server.authorize()
    response = await server.client().post(
        "/contoso/oauth2/v2.0/token",
        data={"grant_type": DEVICE_GRANT, "device_code": started["device_code"]},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.spec("RFC8628", "3.4")
async def test_device_code_of_another_client_is_refused(server: Harness) -> None:
    started = await server.authorize()
    response = await server.poll(started["device_code"], client_id="no-device")
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_grant", "invalid_client", "unauthorized_client")


@pytest.mark.spec("RFC8628", "3.4")
async def test_unknown_device_code_is_invalid_grant(server: Harness) -> None:
    response = await server.poll("not-a-real-device-code")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.spec("RFC8628", "3.5")
async def test_pending_until_the_user_acts(server: Harness) -> None:
    started = await server.authorize()
    response = await server.poll(started["device_code"])
    assert response.status_code == 400
    assert response.json()["error"] == "authorization_pending"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.spec("RFC8628", "3.5")
async def test_polling_too_fast_gets_slow_down_and_plus_five_seconds(server: Harness) -> None:
    started = await server.authorize()
    interval = started["interval"]
    assert (await server.poll(started["device_code"])).json()["error"] == "authorization_pending"
    server.clock.advance(1)
    assert (await server.poll(started["device_code"])).json()["error"] == "slow_down"
    server.clock.advance(interval + 5)
    response = await server.poll(started["device_code"])
    assert response.json()["error"] == "authorization_pending"


@pytest.mark.spec("RFC8628", "3.5")
async def test_access_denied_after_deny(server: Harness) -> None:
    started = await server.authorize()
    await server.decide(started["user_code"], "deny")
    server.clock.advance(started["interval"])
    response = await server.poll(started["device_code"])
    assert response.status_code == 400
    assert response.json()["error"] == "access_denied"


@pytest.mark.spec("RFC8628", "3.5")
async def test_expired_token_after_expires_in(server: Harness) -> None:
    started = await server.authorize()
    server.clock.advance(started["expires_in"] + 1)
    response = await server.poll(started["device_code"])
    assert response.status_code == 400
    assert response.json()["error"] == "expired_token"


@pytest.mark.spec("RFC8628", "3.5")
async def test_success_is_an_rfc6749_token_response(server: Harness) -> None:
    started = await server.authorize()
    await server.decide(started["user_code"])
    server.clock.advance(started["interval"])
    response = await server.poll(started["device_code"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["expires_in"], int)
    assert body["access_token"] and body["refresh_token"]


@pytest.mark.spec("RFC8628", "3.5")
async def test_concurrent_polls_after_approval_yield_one_token(server: Harness) -> None:
    started = await server.authorize()
    await server.decide(started["user_code"])
    server.clock.advance(started["interval"])
    responses = await asyncio.gather(*(server.poll(started["device_code"]) for _ in range(50)))
    assert [r.status_code for r in responses].count(200) == 1
    again = await server.poll(started["device_code"])
    assert again.json()["error"] == "invalid_grant"


@pytest.mark.spec("RFC8628", "5.2")
async def test_unknown_device_codes_are_capped_per_ip(server: Harness) -> None:
    statuses = [(await server.poll(f"guess-{n}")).status_code for n in range(40)]
    assert statuses[0] == 400
    assert 429 in statuses
