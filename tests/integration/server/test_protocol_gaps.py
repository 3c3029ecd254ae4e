"""Protocol gaps independent clients found (issue 12): Graph caching, UserInfo ``sub``, and
Microsoft instance discovery on a host with a port."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest

from tests.support.app_harness import Harness, harness_settings, running

pytestmark = pytest.mark.anyio


def claims_of(jwt: str) -> dict[str, Any]:
    body = jwt.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


async def test_graph_responses_are_never_cached(server: Harness) -> None:
    tokens = await server.tokens(scope="openid profile offline_access User.Read Presence.Read")
    narrow = await server.tokens(scope="openid offline_access")
    client = server.client()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    answers = {
        "me": await client.get("/v1.0/me", headers=auth),
        "beta me": await client.get("/beta/me", headers=auth),
        "presence": await client.get("/v1.0/me/presence", headers=auth),
        "user": await client.get("/v1.0/users/alice", headers=auth),
        "userinfo": await client.get("/oidc/userinfo", headers=auth),
        "bad select": await client.get("/v1.0/me?$select=shoeSize", headers=auth),
        "no token": await client.get("/v1.0/me"),
        "forged token": await client.get("/v1.0/me", headers={"Authorization": "Bearer x.y.z"}),
        "missing scope": await client.get(
            "/v1.0/me/presence", headers={"Authorization": f"Bearer {narrow['access_token']}"}
        ),
    }
    assert answers["me"].status_code == 200 and answers["missing scope"].status_code == 403
    for name, response in answers.items():
        assert response.headers.get("cache-control") == "no-store", name


@pytest.mark.parametrize("tenant", ["contoso", "fabrikam"])
async def test_userinfo_names_the_subject_of_the_id_token(server: Harness, tenant: str) -> None:
    # OIDC Core §5.3.2: "The sub (subject) Claim MUST always be returned in the UserInfo
    # Response", and it must equal the ID token's sub (§5.3.4).
    tokens = await server.tokens(tenant)
    client = server.client()
    doc = (await client.get(f"/{tenant}/v2.0/.well-known/openid-configuration")).json()
    userinfo_url = doc["userinfo_endpoint"]
    assert userinfo_url == "http://testserver/oidc/userinfo"
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    answer = await client.get(userinfo_url, headers=auth)
    assert answer.status_code == 200
    body = answer.json()
    assert body["sub"] == claims_of(tokens["id_token"])["sub"]
    name = "Alice Example" if tenant == "contoso" else "Bob"
    assert body["name"] == name
    assert "@odata.context" not in body and "id" not in body
    # RFC 6750 §2.2: the token may also come as a form parameter of a POST (OIDC Core §5.3.1).
    posted = await client.post(userinfo_url, data={"access_token": tokens["access_token"]})
    assert posted.status_code == 200 and posted.json() == body


async def test_userinfo_shape_follows_microsoft(server: Harness) -> None:
    tokens = await server.tokens("contoso", scope="openid profile offline_access User.Read")
    client = server.client()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    body = (await client.get("/oidc/userinfo", headers=auth)).json()
    assert body == {
        "sub": claims_of(tokens["id_token"])["sub"],
        "name": "Alice Example",
        "family_name": "Example",
        "given_name": "Alice",
        "email": "alice@contoso.example",
    }
    refused = await client.get("/oidc/userinfo")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_instance_discovery_names_the_host_with_its_port() -> None:
    settings = dataclasses.replace(harness_settings(), public_url="https://127.0.0.1:8443")
    async with running(settings) as server:
        answer = await server.client().get(
            "/common/discovery/instance",
            params={
                "api-version": "1.1",
                "authorization_endpoint": "https://127.0.0.1:8443/fabrikam/oauth2/v2.0/authorize",
            },
        )
    assert answer.status_code == 200
    (metadata,) = answer.json()["metadata"]
    # MSAL Node compares the authority's host *and port* with these names.
    assert metadata == {
        "preferred_network": "127.0.0.1:8443",
        "preferred_cache": "127.0.0.1:8443",
        "aliases": ["127.0.0.1:8443"],
    }
