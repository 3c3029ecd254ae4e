"""Device authorization, token and revocation endpoints in process (wire details, dialects)."""

from __future__ import annotations

import pytest

from tests.support.app_harness import CLIENT_ID, DEVICE_GRANT, Harness

pytestmark = pytest.mark.anyio


async def test_device_authorization_microsoft_dialect_adds_message(server: Harness) -> None:
    body = await server.authorize("fabrikam")
    assert body["verification_uri"] == "http://testserver/devicelogin"
    assert body["user_code"] in body["message"] and body["verification_uri"] in body["message"]


async def test_tenant_aliases_resolve_to_one_tenant(server: Harness) -> None:
    for name in ("contoso.example", "11111111-2222-4333-8444-555555555555", "CONTOSO"):
        body = await server.authorize(name)
        assert body["device_code"]


async def test_unknown_tenant_is_invalid_request(server: Harness) -> None:
    response = await server.client().post(
        "/nowhere/oauth2/v2.0/devicecode", data={"client_id": CLIENT_ID}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_put_is_not_allowed(server: Harness) -> None:
    response = await server.client().put("/contoso/oauth2/v2.0/token", content=b"")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST, GET"


async def test_json_body_is_refused(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/token", json={"grant_type": DEVICE_GRANT}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_bad_utf8_is_refused(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/token",
        content=b"grant_type=%ff%fe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400


async def test_huge_body_is_refused(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/token",
        content=b"a=" + b"b" * 70_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400


async def test_missing_grant_type(server: Harness) -> None:
    response = await server.client().post("/contoso/oauth2/v2.0/token", data={"client_id": "x"})
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "The request must include grant_type.",
    }


async def test_form_body_on_get_is_accepted(server: Harness) -> None:
    started = await server.authorize("fabrikam")
    response = await server.client().request(
        "GET",
        "/fabrikam/oauth2/v2.0/token",
        content=f"grant_type=device_code&code={started['device_code']}&client_id={CLIENT_ID}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "authorization_pending"


async def test_microsoft_dialect_accepts_code_and_device_code_when_equal(server: Harness) -> None:
    started = await server.authorize("fabrikam")
    code = started["device_code"]
    form = {"grant_type": DEVICE_GRANT, "device_code": code, "code": code, "client_id": CLIENT_ID}
    response = await server.client().post("/fabrikam/oauth2/v2.0/token", data=form)
    assert response.json()["error"] == "authorization_pending"
    form["code"] = code + "x"
    response = await server.client().post("/fabrikam/oauth2/v2.0/token", data=form)
    assert response.json()["error"] == "invalid_request"


async def test_rfc_dialect_ignores_code_parameter(server: Harness) -> None:
    started = await server.authorize("contoso")
    form = {"grant_type": DEVICE_GRANT, "code": started["device_code"], "client_id": CLIENT_ID}
    response = await server.client().post("/contoso/oauth2/v2.0/token", data=form)
    assert response.json()["error"] == "invalid_request"


async def test_microsoft_tokens_carry_ext_expires_in(server: Harness) -> None:
    body = await server.tokens("fabrikam")
    assert body["ext_expires_in"] == body["expires_in"]


async def test_refresh_grant_rotates(server: Harness) -> None:
    first = await server.tokens()
    response = await server.client().post(
        "/contoso/oauth2/v2.0/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": CLIENT_ID,
        },
    )
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["access_token"] != first["access_token"]
    assert response.headers["cache-control"] == "no-store"


async def test_revocation_returns_200_and_revokes(server: Harness) -> None:
    tokens = await server.tokens()
    client = server.client()
    response = await client.post(
        "/contoso/oauth2/v2.0/revoke",
        data={"token": tokens["refresh_token"], "client_id": CLIENT_ID},
    )
    assert response.status_code == 200
    assert response.content == b""
    again = await client.post(
        "/contoso/oauth2/v2.0/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": CLIENT_ID,
        },
    )
    assert again.json()["error"] == "invalid_grant"
    unknown = await client.post(
        "/contoso/oauth2/v2.0/revoke", data={"token": "nonsense", "client_id": CLIENT_ID}
    )
    assert unknown.status_code == 200


async def test_revocation_without_token_is_invalid_request(server: Harness) -> None:
    response = await server.client().post("/contoso/oauth2/v2.0/revoke", data={})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
