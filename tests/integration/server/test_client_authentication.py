"""How clients identify and authenticate at the token endpoint (RFC 6749 §2.3.1, §3.2.1, §5.2).

Public clients name themselves (``client_id`` in the body, or HTTP Basic with an empty password,
which requests-oauthlib sends by default); confidential clients authenticate with their secret,
by HTTP Basic (``client_secret_basic``) or in the body (``client_secret_post``). A failed
authentication is ``401 invalid_client`` with ``WWW-Authenticate``.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from deviceflow.server.security import hash_password
from deviceflow.server.settings import Settings
from tests.support.app_harness import (
    ALICE,
    BOB,
    CLIENT_ID,
    CONFIG,
    DEVICE_GRANT,
    Harness,
    running,
)

pytestmark = pytest.mark.anyio


def basic(client_id: str, secret: str, *, urlsafe: bool = False) -> dict[str, str]:
    """An ``Authorization: Basic`` header as requests (standard) or Authlib (urlsafe) build it."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return {"Authorization": "Basic " + encode(f"{client_id}:{secret}".encode()).decode()}


async def approved(server: Harness, tenant: str = "contoso") -> dict[str, Any]:
    started = await server.authorize(tenant)
    credentials = ALICE if tenant == "contoso" else BOB
    assert (await server.decide(started["user_code"], credentials=credentials)).status_code == 200
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


# -- confidential clients (client_secret_basic, client_secret_post) ------------------------------

SERVICE = "report-service"
SECRET = "Sx9-kQ2vWm7pL0zR4tB8nC6yH1jF3gAe5dUo_Iq"  # as secrets.token_urlsafe(32) makes them


@pytest.fixture(scope="module")
def confidential_settings() -> Settings:
    confidential = {
        "client_id": SERVICE,
        "name": "Report service",
        "public": False,
        "secret_hash": hash_password(SECRET),
        "scopes": ["openid", "offline_access", "User.Read"],
    }
    return Settings.from_mapping({**CONFIG, "clients": [*CONFIG["clients"], confidential]})


@pytest.fixture
async def service(confidential_settings: Settings, anyio_backend: str) -> AsyncIterator[Harness]:
    async with running(confidential_settings) as harness:
        yield harness


async def _service_tokens(harness: Harness, tenant: str = "contoso") -> dict[str, Any]:
    http = harness.client()
    started = await http.post(
        f"/{tenant}/oauth2/v2.0/devicecode",
        data={"client_id": SERVICE, "client_secret": SECRET, "scope": "openid offline_access"},
    )
    assert started.status_code == 200, started.text
    code = started.json()
    credentials = ALICE if tenant == "contoso" else BOB
    assert (await harness.decide(code["user_code"], credentials=credentials)).status_code == 200
    harness.clock.advance(code["interval"])
    polled = await http.post(
        f"/{tenant}/oauth2/v2.0/token",
        data={"grant_type": DEVICE_GRANT, "device_code": code["device_code"]},
        headers=basic(SERVICE, SECRET),
    )
    assert polled.status_code == 200, polled.text
    body: dict[str, Any] = polled.json()
    return body


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_confidential_client_signs_in_and_refreshes_with_its_secret(
    service: Harness, method: str
) -> None:
    tokens = await _service_tokens(service)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    if method == "client_secret_basic":
        headers = basic(SERVICE, SECRET)
    else:
        headers, form = {}, form | {"client_id": SERVICE, "client_secret": SECRET}
    refreshed = await service.client().post(
        "/contoso/oauth2/v2.0/token", data=form, headers=headers
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]


@pytest.mark.parametrize(
    ("headers", "form", "basic_scheme", "aadsts"),
    [
        pytest.param({}, {"client_id": SERVICE}, False, 7000218, id="no-secret"),
        pytest.param(basic(SERVICE, ""), {}, True, 7000218, id="basic-empty-secret"),
        pytest.param(basic(SERVICE, "wrong"), {}, True, 7000215, id="basic-wrong-secret"),
        pytest.param(
            {}, {"client_id": SERVICE, "client_secret": "wrong"}, False, 7000215, id="post-wrong"
        ),
    ],
)
@pytest.mark.parametrize("tenant", ["contoso", "fabrikam"])
async def test_confidential_client_without_the_right_secret_is_401_invalid_client(
    service: Harness,
    headers: dict[str, str],
    form: dict[str, str],
    basic_scheme: bool,
    aadsts: int,
    tenant: str,
) -> None:
    tokens = await _service_tokens(service, tenant)
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    http = service.client()
    for path, data in (
        ("token", refresh | form),
        ("devicecode", {"scope": "openid"} | form),
    ):
        response = await http.post(f"/{tenant}/oauth2/v2.0/{path}", data=data, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"] == 'Basic realm="deviceflow"'
        if tenant == "fabrikam":
            assert response.json()["error_codes"] == [aadsts]
            if aadsts == 7000215:  # names the app, whether it came in the body or by Basic
                assert f"'{SERVICE}'" in response.json()["error_description"]


async def test_revoking_a_confidential_client_s_token_needs_its_secret(service: Harness) -> None:
    tokens = await _service_tokens(service)
    http = service.client()
    named = await http.post(
        "/contoso/oauth2/v2.0/revoke",
        data={"token": tokens["refresh_token"], "client_id": SERVICE},
    )
    assert named.status_code == 401 and named.json()["error"] == "invalid_client"
    revoked = await http.post(
        "/contoso/oauth2/v2.0/revoke",
        data={"token": tokens["refresh_token"]},
        headers=basic(SERVICE, SECRET),
    )
    assert revoked.status_code == 200, revoked.text
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    gone = await http.post(
        "/contoso/oauth2/v2.0/token", data=refresh, headers=basic(SERVICE, SECRET)
    )
    assert gone.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("tenant", ["contoso", "fabrikam"])
async def test_discovery_lists_the_client_authentication_methods(
    server: Harness, tenant: str
) -> None:
    doc = (await server.client().get(f"/{tenant}/v2.0/.well-known/openid-configuration")).json()
    methods = set(doc["token_endpoint_auth_methods_supported"])
    assert methods == {"none", "client_secret_basic", "client_secret_post"}


# -- revocation names its client (RFC 7009 §2.1) ---------------------------------------------------


async def test_revocation_naming_no_client_is_refused_and_revokes_nothing(
    server: Harness,
) -> None:
    tokens = await server.tokens()
    http = server.client()
    for form in ({}, {"client_id": "nobody"}):
        for token in (tokens["access_token"], tokens["refresh_token"]):
            response = await http.post("/contoso/oauth2/v2.0/revoke", data={"token": token} | form)
            assert response.status_code == 401, response.text
            assert response.json()["error"] == "invalid_client"
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    again = await http.post("/contoso/oauth2/v2.0/token", data=refresh | {"client_id": CLIENT_ID})
    assert again.status_code == 200, again.text
    # Named, it works (what ``deviceflow logout`` sends), and unknown tokens stay a plain 200.
    for token in (again.json()["refresh_token"], "nonsense"):
        named = {"token": token, "token_type_hint": "refresh_token", "client_id": CLIENT_ID}
        assert (await http.post("/contoso/oauth2/v2.0/revoke", data=named)).status_code == 200
    gone = await http.post(
        "/contoso/oauth2/v2.0/token",
        data=refresh | {"client_id": CLIENT_ID, "refresh_token": again.json()["refresh_token"]},
    )
    assert gone.json()["error"] == "invalid_grant"


# -- wrong client secrets are bounded like password guesses ---------------------------------------


@pytest.mark.parametrize(("tenant", "aadsts"), [("contoso", None), ("fabrikam", 90055)])
async def test_a_flood_of_wrong_client_secrets_is_refused_with_retry_after(
    service: Harness, tenant: str, aadsts: int | None
) -> None:
    http = service.client("203.0.113.5")
    limit = service.app.state.ctx.settings.rate_limits.sign_in_failures
    form = {"client_id": SERVICE, "scope": "openid"}
    for _ in range(limit):
        wrong = await http.post(
            f"/{tenant}/oauth2/v2.0/devicecode", data=form | {"client_secret": "wrong"}
        )
        assert wrong.status_code == 401 and "retry-after" not in wrong.headers
    for secret in ("wrong", SECRET):  # refused before any hashing, even the right secret
        throttled = await http.post(
            f"/{tenant}/oauth2/v2.0/devicecode", data=form | {"client_secret": secret}
        )
        assert throttled.status_code == 401, throttled.text
        assert throttled.json()["error"] == "invalid_client"
        assert 0 < int(throttled.headers["retry-after"]) <= 900
        if aadsts:
            assert throttled.json()["error_codes"] == [aadsts]
    service.clock.advance(int(throttled.headers["retry-after"]))
    ok = await http.post(f"/{tenant}/oauth2/v2.0/devicecode", data=form | {"client_secret": SECRET})
    assert ok.status_code == 200, ok.text
