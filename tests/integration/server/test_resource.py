"""The ``resource`` a client asks a token for (Microsoft v1, RFC 8707 §2.2).

The v1 token response names the ``resource`` its access token is for; it used to echo whatever
resource the client sent while the token itself stayed a Graph token. Now a token is issued for
the resource asked, out of what the grant holds (the refresh token keeps the whole grant), or the
request is refused: an unknown resource as Entra does (``invalid_resource``, AADSTS500011; RFC
8707's ``invalid_target`` on RFC tenants), a known one this sign-in holds nothing of as a missing
consent (``invalid_grant``, AADSTS65001).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from deviceflow.server.settings import Settings
from tests.support.app_harness import ALICE, BOB, CONFIG, DEVICE_GRANT, Harness, running

pytestmark = pytest.mark.anyio

GRAPH = "https://graph.microsoft.com"
ORDERS = "api://orders"
BILLING = "api://billing"  # known here (another client has a scope of it), not in these grants
UNKNOWN = "https://unknown.example"
APP = "orders-app"


@pytest.fixture(scope="module")
def settings() -> Settings:
    clients = [
        *CONFIG["clients"],
        {
            "client_id": APP,
            "scopes": ["openid", "profile", "offline_access", "User.Read", f"{ORDERS}/Orders.Read"],
        },
        {"client_id": "billing-app", "scopes": ["openid", f"{BILLING}/Invoices.Read"]},
    ]
    return Settings.from_mapping({**CONFIG, "clients": clients})


@pytest.fixture
async def server(settings: Settings, anyio_backend: str) -> AsyncIterator[Harness]:
    async with running(settings) as harness:
        yield harness


def audience(token: str) -> str:
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return str(claims["aud"])


async def v1_approved(server: Harness, tenant: str = "fabrikam", **form: str) -> dict[str, Any]:
    started = await server.client().post(
        f"/{tenant}/oauth2/devicecode", data={"client_id": APP, **form}
    )
    assert started.status_code == 200, started.text
    code: dict[str, Any] = started.json()
    credentials = BOB if tenant == "fabrikam" else ALICE
    assert (await server.decide(code["user_code"], credentials=credentials)).status_code == 200
    server.clock.advance(int(code["interval"]))
    return code


async def v1_poll(server: Harness, code: dict[str, Any], resource: str) -> httpx.Response:
    form = {"grant_type": "device_code", "code": code["device_code"], "client_id": APP}
    return await server.client().post("/fabrikam/oauth2/token", data=form | {"resource": resource})


async def refresh(
    server: Harness, token: str, resource: str, *, path: str = "/fabrikam/oauth2/token"
) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": APP}
    return await server.client().post(path, data=form | {"resource": resource})


def assert_microsoft_error(response: httpx.Response, error: str, code: int) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error"], body["error_codes"]) == (error, [code]), body


async def test_v1_poll_for_an_unknown_resource_is_refused_and_keeps_the_flow(
    server: Harness,
) -> None:
    code = await v1_approved(server, resource=GRAPH)
    refused = await v1_poll(server, code, UNKNOWN)
    assert_microsoft_error(refused, "invalid_resource", 500011)
    assert UNKNOWN in refused.json()["error_description"]
    polled = await v1_poll(server, code, GRAPH)  # the flow survives a refused poll
    assert polled.status_code == 200, polled.text
    assert polled.json()["resource"] == GRAPH == audience(polled.json()["access_token"])


async def test_v1_refresh_is_for_the_resource_asked_or_refused(server: Harness) -> None:
    started = await server.authorize(
        "fabrikam", client_id=APP, scope=f"openid offline_access User.Read {ORDERS}/Orders.Read"
    )
    assert (await server.decide(started["user_code"], credentials=BOB)).status_code == 200
    server.clock.advance(started["interval"])
    poll = {"grant_type": DEVICE_GRANT, "device_code": started["device_code"], "client_id": APP}
    tokens = (await server.client().post("/fabrikam/oauth2/v2.0/token", data=poll)).json()
    orders = await refresh(server, tokens["refresh_token"], ORDERS)
    assert orders.status_code == 200, orders.text
    body = orders.json()
    assert body["resource"] == ORDERS == audience(body["access_token"])
    assert body["scope"] == f"openid {ORDERS}/Orders.Read"
    graph = await refresh(server, body["refresh_token"], GRAPH)  # the grant is whole again
    assert graph.status_code == 200, graph.text
    assert graph.json()["resource"] == GRAPH == audience(graph.json()["access_token"])
    assert "User.Read" in graph.json()["scope"].split()
    unknown = await refresh(server, tokens["refresh_token"], UNKNOWN)
    assert_microsoft_error(unknown, "invalid_resource", 500011)
    not_granted = await refresh(server, tokens["refresh_token"], BILLING)
    assert_microsoft_error(not_granted, "invalid_grant", 65001)


async def test_v1_device_authorization_for_an_unknown_resource_is_invalid_resource(
    server: Harness,
) -> None:
    response = await server.client().post(
        "/fabrikam/oauth2/devicecode", data={"client_id": APP, "resource": UNKNOWN}
    )
    assert_microsoft_error(response, "invalid_resource", 500011)


async def test_rfc_tenant_answers_invalid_target(server: Harness) -> None:
    started = await server.authorize(client_id=APP, scope="openid offline_access User.Read")
    assert (await server.decide(started["user_code"])).status_code == 200
    server.clock.advance(started["interval"])
    poll = {"grant_type": DEVICE_GRANT, "device_code": started["device_code"], "client_id": APP}
    tokens = (await server.client().post("/contoso/oauth2/v2.0/token", data=poll)).json()
    response = await refresh(
        server, tokens["refresh_token"], UNKNOWN, path="/contoso/oauth2/v2.0/token"
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_target"
    graph = await refresh(server, tokens["refresh_token"], GRAPH, path="/contoso/oauth2/v2.0/token")
    assert graph.status_code == 200 and audience(graph.json()["access_token"]) == GRAPH
