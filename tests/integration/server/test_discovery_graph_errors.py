"""Discovery, JWKS, the Graph emulation and error rendering, in process."""

from __future__ import annotations

import logging

import pytest
from starlette.requests import Request
from starlette.routing import Route

from tests.support.app_harness import CLIENT_ID, DEVICE_GRANT, Harness
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio


async def test_openid_configuration_per_tenant_segment(server: Harness) -> None:
    response = await server.client().get("/contoso.example/v2.0/.well-known/openid-configuration")
    assert response.status_code == 200
    doc = response.json()
    base = "http://testserver/contoso.example"
    assert doc["issuer"] == f"{base}/v2.0"  # an RFC tenant: the URL asked (RFC 8414 §3.3)
    assert doc["device_authorization_endpoint"] == f"{base}/oauth2/v2.0/devicecode"
    assert doc["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert doc["revocation_endpoint"] == f"{base}/oauth2/v2.0/revoke"
    assert doc["jwks_uri"] == f"{base}/discovery/v2.0/keys"
    assert doc["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"


async def test_rfc8414_metadata_at_both_places(server: Harness) -> None:
    client = server.client()
    inserted = await client.get("/.well-known/oauth-authorization-server/contoso/v2.0")
    appended = await client.get("/contoso/v2.0/.well-known/oauth-authorization-server")
    assert inserted.json() == appended.json()
    assert (
        "urn:ietf:params:oauth:grant-type:device_code" in inserted.json()["grant_types_supported"]
    )


async def test_unknown_tenant_discovery_is_404(server: Harness) -> None:
    client = server.client()
    assert (await client.get("/x/v2.0/.well-known/openid-configuration")).status_code == 404
    assert (await client.get("/x/discovery/v2.0/keys")).status_code == 404


async def test_jwks_publishes_the_signing_key(server: Harness) -> None:
    tokens = await server.tokens()
    keys = (await server.client().get("/contoso/discovery/v2.0/keys")).json()["keys"]
    import base64
    import json

    header = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[0] + "=="))
    assert header["kid"] in {key["kid"] for key in keys}
    assert all(key["kty"] == "RSA" for key in keys)


async def test_authorize_endpoint_is_not_offered(server: Harness) -> None:
    response = await server.client().get("/contoso/oauth2/v2.0/authorize")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_response_type"


async def test_graph_me_returns_the_user_in_graph_shape(server: Harness) -> None:
    tokens = await server.tokens()
    response = await server.client().get(
        "/v1.0/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "@odata.context", "businessPhones", "displayName", "givenName", "jobTitle", "mail",
        "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
    }  # fmt: skip
    assert body["displayName"] == "Alice Example"
    assert body["jobTitle"] == "Engineer"
    assert body["officeLocation"] is None
    assert body["@odata.context"].endswith("/v1.0/$metadata#users/$entity")


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Basic abc", id="wrong-scheme"),
        pytest.param("Bearer not.a.jwt", id="garbage"),
    ],
)
async def test_graph_me_refuses_bad_tokens_with_401(
    server: Harness, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    headers["client-request-id"] = "abc-123"
    response = await server.client().get("/v1.0/me", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["innerError"]["client-request-id"] == "abc-123"
    assert {"date", "request-id"} <= set(error["innerError"])
    assert response.headers["www-authenticate"].startswith('Bearer realm=""')


async def test_graph_me_expired_token_is_401(server: Harness) -> None:
    tokens = await server.tokens()
    server.clock.advance(tokens["expires_in"] + 600)
    response = await server.client().get(
        "/v1.0/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 401


async def test_graph_me_without_user_read_is_403(server: Harness) -> None:
    tokens = await server.tokens(scope="openid Presence.Read")
    response = await server.client().get(
        "/v1.0/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Authorization_RequestDenied"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_presence_page_changes_what_graph_returns(server: Harness) -> None:
    tokens = await server.tokens(scope="openid Presence.Read")
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    device = server.client()
    before = (await device.get("/v1.0/me/presence", headers=auth)).json()
    assert set(before) == {"@odata.context", "id", "availability", "activity"}
    browser = server.client()
    page = await browser.get("/presence")
    assert ">Sign in</button>" in page.text
    wrong = await browser.post(
        "/presence/signin",
        data={"csrf_token": csrf_of(page.text), "username": "alice", "password": "x"},
    )
    assert "not right" in wrong.text
    signed = await browser.post(
        "/presence/signin",
        data={"csrf_token": csrf_of(page.text), "username": "alice", "password": "alice-pw-123"},
    )
    assert "Your presence" in signed.text
    bad = await browser.post(
        "/presence",
        data={"csrf_token": csrf_of(signed.text), "availability": "Nope", "activity": "Busy"},
    )
    assert "Pick values" in bad.text
    saved = await browser.post(
        "/presence",
        data={"csrf_token": csrf_of(signed.text), "availability": "Busy", "activity": "InACall"},
    )
    assert "Saved." in saved.text
    after = (await device.get("/v1.0/me/presence", headers=auth)).json()
    assert (after["availability"], after["activity"]) == ("Busy", "InACall")
    assert (await browser.get("/presence")).text.count("InACall") >= 1


async def test_presence_requires_presence_scope(server: Harness) -> None:
    tokens = await server.tokens(scope="openid User.Read")
    response = await server.client().get(
        "/v1.0/me/presence", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 403


async def test_presence_post_needs_csrf_and_sign_in(server: Harness) -> None:
    browser = server.client()
    page = await browser.get("/presence")
    assert (await browser.post("/presence", data={})).status_code == 403
    response = await browser.post(
        "/presence",
        data={"csrf_token": csrf_of(page.text), "availability": "Busy", "activity": "Busy"},
    )
    assert "Please sign in." in response.text
    refused = await browser.post("/presence/signin", data={"username": "alice"})
    assert refused.status_code == 403


async def test_not_found_is_json_for_apis_and_html_for_browsers(server: Harness) -> None:
    client = server.client()
    api = await client.get("/missing")
    assert api.status_code == 404
    assert api.json()["error"] == "not_found"
    page = await client.get("/missing", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "Page not found" in page.text
    assert page.headers["x-frame-options"] == "DENY"


async def test_unexpected_failure_is_a_generic_server_error(
    server: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(request: Request) -> None:
        raise RuntimeError("secret internals")

    server.app.router.routes.append(Route("/explode", explode))
    client = server.client(raise_errors=False)
    response = await client.get("/explode")
    assert response.status_code == 500
    assert response.json() == {
        "error": "server_error",
        "error_description": "The server encountered an unexpected error. Try again later.",
    }
    assert "secret internals" not in response.text
    assert "secret internals" in caplog.text
    page = await client.get("/explode", headers={"Accept": "text/html"})
    assert "Something went wrong" in page.text and "secret internals" not in page.text


async def test_unexpected_failure_on_a_token_poll_is_the_same_server_error(
    server: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Token requests skip the framework's layers (endpoints._hotpath): the answer is the same.
    async def explode(**_: object) -> None:
        raise RuntimeError("secret internals")

    flow = await server.authorize()
    monkeypatch.setattr(server.app.state.ctx.engine.device, "apoll", explode)
    caplog.set_level(logging.INFO, logger="deviceflow.server.access")
    response = await server.client(raise_errors=False).post(
        "/contoso/oauth2/v2.0/token",
        data={
            "grant_type": DEVICE_GRANT,
            "device_code": flow["device_code"],
            "client_id": CLIENT_ID,
        },
        headers={"X-Request-Id": "poll-500"},
    )
    assert response.status_code == 500
    assert response.json() == {
        "error": "server_error",
        "error_description": "The server encountered an unexpected error. Try again later.",
    }
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"] == "poll-500"
    assert "secret internals" not in response.text
    assert "secret internals" in caplog.text
    assert "POST /contoso/oauth2/v2.0/token 500" in caplog.messages
    with pytest.raises(RuntimeError, match="secret internals"):  # on to the ASGI server too
        await server.poll(flow["device_code"])


async def test_static_stylesheet_is_served(server: Harness) -> None:
    response = await server.client().get("/static/style.css")
    assert response.status_code == 200
    assert ".decision" in response.text
