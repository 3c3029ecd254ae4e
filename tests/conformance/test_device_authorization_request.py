"""RFC 8628 §3.1 (Device Authorization Request) and §3.2 (Device Authorization Response)."""

from __future__ import annotations

import base64
import math

import pytest

from tests.support.app_harness import CLIENT_ID, Harness

pytestmark = pytest.mark.anyio


@pytest.mark.spec("RFC8628", "3.1")
async def test_client_id_is_required(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/devicecode", data={"scope": "openid"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.spec("RFC8628", "3.1")
async def test_unknown_client_is_refused(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/devicecode", data={"client_id": "nobody", "scope": "openid"}
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "unauthorized_client")


@pytest.mark.spec("RFC8628", "3.1")
async def test_client_without_the_device_grant_is_unauthorized(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/devicecode", data={"client_id": "no-device", "scope": "openid"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


@pytest.mark.spec("RFC8628", "3.1")
async def test_scope_outside_the_allow_list_is_invalid_scope(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/devicecode", data={"client_id": CLIENT_ID, "scope": "Mail.Send"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


@pytest.mark.spec("RFC8628", "3.1")
async def test_repeated_parameter_is_invalid_request(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/devicecode",
        content=f"client_id={CLIENT_ID}&client_id={CLIENT_ID}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.spec("RFC8628", "3.2")
async def test_response_members_and_types(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/devicecode", data={"client_id": CLIENT_ID, "scope": "openid"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    for name in ("device_code", "user_code", "verification_uri"):
        assert isinstance(body[name], str) and body[name]
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert isinstance(body["interval"], int) and body["interval"] > 0
    assert body["verification_uri"] == "http://testserver/devicelogin"
    assert body["verification_uri_complete"].startswith(body["verification_uri"] + "?code=")


@pytest.mark.spec("RFC8628", "3.2")
async def test_response_is_not_cached(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/devicecode", data={"client_id": CLIENT_ID, "scope": "openid"}
    )
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.spec("RFC8628", "3.2")
async def test_verification_uri_is_short_and_fixed(server: Harness) -> None:
    first = await server.authorize()
    second = await server.authorize()
    assert first["verification_uri"] == second["verification_uri"]
    assert "?" not in first["verification_uri"]
    assert first["device_code"] != second["device_code"]
    assert first["user_code"] != second["user_code"]


@pytest.mark.spec("RFC8628", "5.2")
async def test_device_code_has_at_least_128_bits(server: Harness) -> None:
    body = await server.authorize()
    code = body["device_code"]
    alphabet = set(code)
    bits = len(code) * math.log2(max(len(alphabet), 2))
    assert bits >= 128
    assert len(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))) >= 16


@pytest.mark.spec("RFC8628", "6.1")
async def test_user_code_uses_the_base20_alphabet(server: Harness) -> None:
    for _ in range(20):
        code = (await server.authorize())["user_code"]
        assert len(code) == 9 and code[4] == "-"
        assert set(code.replace("-", "")) <= set("BCDFGHJKLMNPQRSTVWXZ")
