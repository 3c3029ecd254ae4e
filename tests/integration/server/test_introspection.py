"""Token introspection (RFC 7662): only authenticated clients, only the token's own tenant.

"To prevent token scanning attacks, the endpoint MUST also require some form of authorization to
access this endpoint, such as client authentication" (§2.1). Introspection used to answer anyone
who named a client id, whatever the tenant in the URL.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from deviceflow.server.security import hash_password
from deviceflow.server.settings import Settings
from tests.support.app_harness import CLIENT_ID, CONFIG, Harness, running

pytestmark = pytest.mark.anyio

API = "orders-api"
API_SECRET = "Ap1-zQ8vWm7pL0zR4tB8nC6yH1jF3gAe5dUo_Xk"
FABRIKAM_ONLY = "fabrikam-api"


@pytest.fixture(scope="module")
def settings() -> Settings:
    hashed = hash_password(API_SECRET)
    resource_servers = [
        {"client_id": API, "public": False, "secret_hash": hashed},
        {
            "client_id": FABRIKAM_ONLY,
            "public": False,
            "secret_hash": hashed,
            "tenants": ["fabrikam"],
        },
    ]
    return Settings.from_mapping({**CONFIG, "clients": [*CONFIG["clients"], *resource_servers]})


@pytest.fixture
async def server(settings: Settings, anyio_backend: str) -> AsyncIterator[Harness]:
    async with running(settings) as harness:
        yield harness


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def introspect(
    server: Harness,
    token: str,
    tenant: str = "contoso",
    *,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> httpx.Response:
    return await server.client().post(
        f"/{tenant}/oauth2/v2.0/introspect",
        data={"token": token, **(form or {})},
        headers=basic(API, API_SECRET) if headers is None else headers,
    )


@pytest.mark.parametrize(
    ("headers", "form"),
    [
        pytest.param({}, {}, id="anonymous"),
        pytest.param({}, {"client_id": CLIENT_ID}, id="the-token-s-own-public-client"),
        pytest.param({}, {"client_id": API}, id="confidential-without-secret"),
        pytest.param(basic(API, "wrong"), {}, id="wrong-secret"),
        pytest.param({}, {"client_id": API, "client_secret": "wrong"}, id="wrong-secret-post"),
        pytest.param(basic(CLIENT_ID, ""), {}, id="public-client-by-basic"),
    ],
)
async def test_introspection_refuses_unauthenticated_callers(
    server: Harness, headers: dict[str, str], form: dict[str, str]
) -> None:
    tokens = await server.tokens()
    response = await introspect(server, tokens["access_token"], headers=headers, form=form)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert "active" not in response.json()


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_an_authenticated_client_learns_about_tokens_of_the_tenant(
    server: Harness, method: str
) -> None:
    tokens = await server.tokens()
    if method == "client_secret_basic":
        headers, form = basic(API, API_SECRET), {}
    else:
        headers, form = {}, {"client_id": API, "client_secret": API_SECRET}
    for token, kind in ((tokens["access_token"], "Bearer"), (tokens["refresh_token"], None)):
        response = await introspect(server, token, headers=headers, form=form)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        assert answer["active"] is True and answer["client_id"] == CLIENT_ID
        assert answer["token_type"] == (kind or "refresh_token")


async def test_a_token_of_another_tenant_is_inactive(server: Harness) -> None:
    contoso, fabrikam = await server.tokens(), await server.tokens("fabrikam")
    for token in (fabrikam["access_token"], fabrikam["refresh_token"]):
        assert (await introspect(server, token, "contoso")).json() == {"active": False}
        assert (await introspect(server, token, "fabrikam")).json()["active"] is True
    for token in (contoso["access_token"], contoso["refresh_token"]):
        assert (await introspect(server, token, "fabrikam")).json() == {"active": False}


async def test_a_client_of_another_tenant_may_not_introspect(server: Harness) -> None:
    only_fabrikam = basic(FABRIKAM_ONLY, API_SECRET)
    tokens = await server.tokens()
    response = await introspect(server, tokens["access_token"], headers=only_fabrikam)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    fabrikam = await server.tokens("fabrikam")
    allowed = await introspect(server, fabrikam["access_token"], "fabrikam", headers=only_fabrikam)
    assert allowed.json()["active"] is True


async def test_discovery_lists_the_introspection_auth_methods(server: Harness) -> None:
    doc = (await server.client().get("/contoso/v2.0/.well-known/openid-configuration")).json()
    assert doc["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
