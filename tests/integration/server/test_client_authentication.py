"""How clients identify and authenticate at the token endpoint (RFC 6749 §2.3.1, §3.2.1, §5.2).

Public clients name themselves (``client_id`` in the body, or HTTP Basic with an empty password,
which requests-oauthlib sends by default); confidential clients authenticate with their secret,
by HTTP Basic (``client_secret_basic``) or in the body (``client_secret_post``). A failed
authentication is ``401 invalid_client`` with ``WWW-Authenticate``.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.integration.server.harness import BOB, CLIENT_ID, DEVICE_GRANT, Harness

pytestmark = pytest.mark.anyio


def basic(client_id: str, secret: str, *, urlsafe: bool = False) -> dict[str, str]:
    """An ``Authorization: Basic`` header as requests (standard) or Authlib (urlsafe) build it."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return {"Authorization": "Basic " + encode(f"{client_id}:{secret}".encode()).decode()}


async def approved(server: Harness, tenant: str = "contoso") -> dict[str, Any]:
    started = await server.authorize(tenant)
    credentials = {} if tenant == "contoso" else {"credentials": BOB}
    assert (await server.decide(started["user_code"], **credentials)).status_code == 200
    server.clock.advance(started["interval"])
    return started


@pytest.mark.parametrize("urlsafe", [False, True], ids=["requests-oauthlib", "authlib"])
async def test_basic_with_an_empty_secret_identifies_a_public_client(
    server: Harness, urlsafe: bool
) -> None:
    # requests-oauthlib's fetch_token default: HTTPBasicAuth(client_id, "") and no client_id in
    # the body (include_client_id=None). It used to fail with "must include client_id".
    started = await approved(server)
    response = await server.client().post(
        "/contoso/oauth2/v2.0/token",
        data={"grant_type": DEVICE_GRANT, "device_code": started["device_code"]},
        headers=basic(CLIENT_ID, "", urlsafe=urlsafe),
    )
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"]


async def test_refresh_with_the_refresh_token_alone_for_a_public_client(server: Harness) -> None:
    # requests-oauthlib's refresh_token() default sends no client identification at all; RFC 6749
    # §6 asks a public client for none. The token stays bound to its client.
    tokens = await server.tokens()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    response = await server.client().post("/contoso/oauth2/v2.0/token", data=form)
    assert response.status_code == 200, response.text
    assert response.json()["access_token"] != tokens["access_token"]


async def test_microsoft_tenant_still_wants_client_id_on_refresh(server: Harness) -> None:
    tokens = await server.tokens("fabrikam")
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    response = await server.client().post("/fabrikam/oauth2/v2.0/token", data=form)
    assert response.status_code == 400
    assert response.json()["error_codes"] == [900144]  # Entra: 'client_id' is required


@pytest.mark.parametrize(
    ("headers", "form"),
    [
        pytest.param(basic(CLIENT_ID, "a-secret"), {}, id="public-client-with-a-secret"),
        pytest.param({"Authorization": "Basic !!!"}, {}, id="not-base64"),
        pytest.param(
            {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, {}, id="no-colon"
        ),
        pytest.param(basic("nobody", ""), {}, id="unknown-client"),
    ],
)
async def test_failed_basic_authentication_is_401_with_www_authenticate(
    server: Harness, headers: dict[str, str], form: dict[str, str]
) -> None:
    started = await server.authorize()
    response = await server.client().post(
        "/contoso/oauth2/v2.0/token",
        data={"grant_type": DEVICE_GRANT, "device_code": started["device_code"], **form},
        headers=headers,
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    "form",
    [
        pytest.param({"client_id": "no-device"}, id="another-client-id-in-the-body"),
        pytest.param({"client_secret": "x"}, id="two-methods"),
    ],
)
async def test_basic_and_a_conflicting_body_is_invalid_request(
    server: Harness, form: dict[str, str]
) -> None:
    started = await server.authorize()
    response = await server.client().post(
        "/contoso/oauth2/v2.0/token",
        data={"grant_type": DEVICE_GRANT, "device_code": started["device_code"], **form},
        headers=basic(CLIENT_ID, ""),
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


async def test_basic_with_the_same_client_id_in_the_body_is_fine(server: Harness) -> None:
    started = await server.authorize()
    response = await server.client().post(
        "/contoso/oauth2/v2.0/token",
        data={"grant_type": DEVICE_GRANT, "device_code": started["device_code"]}
        | {"client_id": CLIENT_ID},
        headers=basic(CLIENT_ID, ""),
    )
    assert response.json()["error"] == "authorization_pending"


async def test_device_authorization_accepts_basic_too(server: Harness) -> None:
    response = await server.client().post(
        "/contoso/oauth2/v2.0/devicecode",
        data={"scope": "openid offline_access"},
        headers=basic(CLIENT_ID, ""),
    )
    assert response.status_code == 200, response.text
