"""Golden shapes of the emulated Graph: /me (v1.0, beta, $select), /users/{id|upn}, errors."""

from __future__ import annotations

from typing import Any

import pytest

from deviceflow.server.settings import Settings
from tests.support.app_harness import CONFIG, Harness, running

pytestmark = pytest.mark.anyio

DEFAULT = [
    "@odata.context", "businessPhones", "displayName", "givenName", "jobTitle", "mail",
    "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
]  # fmt: skip


def _config() -> dict[str, Any]:
    scopes = ["openid", "profile", "offline_access", "User.Read", "User.ReadBasic.All"]
    clients = [dict(CONFIG["clients"][0], scopes=scopes), *CONFIG["clients"][1:]]
    users = [
        *CONFIG["users"],
        {"username": "carol", "password": "carol-pw-123", "tenant": "contoso"},
    ]
    return {**CONFIG, "clients": clients, "users": users}


async def _token(ms: Harness, scope: str) -> str:
    body = await ms.tokens(scope=scope)
    return str(body["access_token"])


async def test_me_beta_select_users_and_errors(anyio_backend: str) -> None:
    async with running(Settings.from_mapping(_config())) as ms:
        client = ms.client()
        token = await _token(ms, "openid offline_access User.Read User.ReadBasic.All")
        auth = {"Authorization": f"Bearer {token}", "client-request-id": "cr-1"}
        me = await client.get("/v1.0/me", headers=auth)
        assert list(me.json()) == DEFAULT
        assert me.headers["client-request-id"] == "cr-1" and me.headers["request-id"]
        slash = await client.get("/v1.0/me/", headers=auth)
        assert slash.json() == me.json()
        beta = (await client.get("/beta/me", headers=auth)).json()
        assert beta["@odata.context"] == "http://testserver/beta/$metadata#users/$entity"
        narrowed = (await client.get("/v1.0/me?$select=displayName,ID", headers=auth)).json()
        assert narrowed == {
            "@odata.context": "http://testserver/v1.0/$metadata#users(displayName,id)/$entity",
            "displayName": "Alice Example",
            "id": me.json()["id"],
        }
        bad = await client.get("/v1.0/me?$select=shoeSize", headers=auth)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"
        carol = await client.get("/v1.0/users/carol", headers=auth)
        assert carol.status_code == 200 and carol.json()["displayName"] == "carol"
        by_id = await client.get(f"/v1.0/users/{carol.json()['id']}", headers=auth)
        assert by_id.json() == carol.json()
        foreign = await client.get("/v1.0/users/bob", headers=auth)  # bob is in fabrikam
        assert foreign.status_code == 404
        assert foreign.json()["error"]["code"] == "Request_ResourceNotFound"
        userinfo = await client.get("/oidc/userinfo", headers=auth)
        assert userinfo.status_code == 200

        narrow_token = await _token(ms, "openid User.Read")
        denied = await client.get(
            "/v1.0/users/carol", headers={"Authorization": f"Bearer {narrow_token}"}
        )
        assert denied.status_code == 403
        assert 'scope="User.ReadBasic.All"' in denied.headers["www-authenticate"]

        empty = await client.get("/v1.0/me")
        error = empty.json()["error"]
        assert list(error) == ["code", "message", "innerError"]
        assert list(error["innerError"]) == ["date", "request-id", "client-request-id"]
        assert error["message"] == "Access token is empty."
        assert empty.headers["www-authenticate"] == (
            'Bearer realm="", authorization_uri="http://testserver/common/oauth2/authorize",'
            ' client_id="00000003-0000-0000-c000-000000000000"'
        )
        ms.clock.advance(7200)
        expired = await client.get("/v1.0/me", headers=auth)
        assert expired.json()["error"]["message"] == (
            "Lifetime validation failed, the token is expired."
        )
