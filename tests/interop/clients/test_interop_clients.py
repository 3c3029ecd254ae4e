"""Independent OAuth clients against ``deviceflow serve --tls``: the device flow, a refresh and
UserInfo, each client with its own checks (issue 12, acceptance).

- openid-client (Node): discovery, ID token validation, ``fetchUserInfo`` with the expected
  ``sub`` (RFC dialect);
- @azure/msal-node: given the server's instance discovery and metadata (Microsoft dialect);
- requests-oauthlib / oauthlib ``DeviceClient``: with its defaults, and with ``client_id`` sent;
- Authlib's requests ``OAuth2Session``.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.clients.peers import (
    CLIENT_ID,
    MS_TENANT,
    RFC_GUID,
    RFC_TENANT,
    SCOPE,
    approve,
    run_node_peer,
    write_config,
)
from tests.support.serverproc import ServerProcess

pytestmark = [pytest.mark.interop, pytest.mark.xdist_group("interop-clients")]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("interop-clients")
    proc = ServerProcess(folder=folder, config=write_config(folder), tls=True)
    proc.start()
    try:
        yield proc
    finally:
        assert proc.stop() == 0


@pytest.fixture
def trusting(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> ServerProcess:
    """``server``, with requests trusting its CA (as ``serve --tls`` tells Python users to)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca))
    # oauthlib refuses a token whose reported scope differs from the request's unless told
    # (RFC 6749 §5.1 allows it): the Microsoft-style report omits offline_access.
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    return server


def id_token_sub(id_token: str) -> str:
    body = id_token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["sub"])


def metadata(server: ServerProcess, tenant: str) -> dict[str, Any]:
    import httpx

    url = f"{server.base_url}/{tenant}/v2.0/.well-known/openid-configuration"
    document: dict[str, Any] = httpx.get(
        url, verify=ssl.create_default_context(cafile=server.ca)
    ).json()
    return document


# -- openid-client (Node) ---------------------------------------------------------------------


def openid_client(server: ServerProcess, folder: Path, issuer: str) -> dict[str, Any]:
    env = {"ISSUER": issuer, "CLIENT_ID": CLIENT_ID, "SCOPE": SCOPE}
    return run_node_peer(
        "openid_client.mjs", "openid-client", folder, ca=server.ca, env=env,
        tenant=RFC_TENANT, base_url=server.base_url,
    )  # fmt: skip


def test_openid_client_device_flow_refresh_and_userinfo(
    server: ServerProcess, tmp_path: Path
) -> None:
    # The issuer by GUID (every name of an rfc8628 tenant is an issuer of its own).
    done = openid_client(server, tmp_path, f"{server.base_url}/{RFC_GUID}/v2.0")
    assert done["refreshed"] is True
    assert done["refreshed_sub"] == done["sub"]
    assert done["userinfo"]["sub"] == done["sub"]  # fetchUserInfo checked it too
    assert done["userinfo"]["name"] == "Erin Example"


def test_openid_client_discovers_an_rfc_tenant_by_name(
    server: ServerProcess, tmp_path: Path
) -> None:
    # RFC 8414 §3.3: the issuer is the URL the metadata was fetched under, name or GUID.
    done = openid_client(server, tmp_path, f"{server.base_url}/{RFC_TENANT}/v2.0")
    assert done["refreshed"] is True
    assert done["userinfo"]["sub"] == done["sub"]


# -- @azure/msal-node -------------------------------------------------------------------------


def test_msal_node_device_flow_refresh_and_userinfo(server: ServerProcess, tmp_path: Path) -> None:
    env = {"BASE_URL": server.base_url, "TENANT": MS_TENANT, "CLIENT_ID": CLIENT_ID}
    done = run_node_peer(
        "msal_node.mjs", "@azure/msal-node", tmp_path, ca=server.ca, env=env,
        tenant=MS_TENANT, base_url=server.base_url,
    )  # fmt: skip
    assert done["username"] == "adele@fabrikam.example"
    assert done["environment"] == f"127.0.0.1:{server.port}"
    assert done["refreshed"] is True and done["refresh_tokens"] == 1
    assert done["userinfo_status"] == 200
    assert done["userinfo"]["sub"] == done["id_token_sub"]


# -- requests-oauthlib / oauthlib ---------------------------------------------------------------


def requests_oauthlib_flow(server: ServerProcess, *, send_client_id: bool) -> None:
    from oauthlib.oauth2 import DeviceClient
    from requests_oauthlib import OAuth2Session

    meta = metadata(server, RFC_TENANT)
    session = OAuth2Session(client=DeviceClient(CLIENT_ID), scope=SCOPE.split())
    started = session.post(
        meta["device_authorization_endpoint"], data={"client_id": CLIENT_ID, "scope": SCOPE}
    ).json()
    approve(server.base_url, server.ca, started["user_code"], RFC_TENANT)
    extra: dict[str, Any] = {"include_client_id": True} if send_client_id else {}
    token = session.fetch_token(meta["token_endpoint"], device_code=started["device_code"], **extra)
    refreshed = session.refresh_token(
        meta["token_endpoint"], **({"client_id": CLIENT_ID} if send_client_id else {})
    )
    assert refreshed["access_token"] != token["access_token"]
    info = session.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == id_token_sub(token["id_token"])


def test_requests_oauthlib_with_its_defaults(trusting: ServerProcess) -> None:
    # Basic with an empty secret names the public client; the refresh sends no client_id.
    requests_oauthlib_flow(trusting, send_client_id=False)


def test_requests_oauthlib_sending_client_id(trusting: ServerProcess) -> None:
    requests_oauthlib_flow(trusting, send_client_id=True)


# -- Authlib ----------------------------------------------------------------------------------


def test_authlib_device_flow_refresh_and_userinfo(trusting: ServerProcess) -> None:
    from authlib.integrations.requests_client import OAuth2Session

    server = trusting
    meta = metadata(server, RFC_TENANT)
    session = OAuth2Session(CLIENT_ID, scope=SCOPE)
    started = session.post(
        meta["device_authorization_endpoint"],
        data={"client_id": CLIENT_ID, "scope": SCOPE},
        withhold_token=True,
    ).json()
    approve(server.base_url, server.ca, started["user_code"], RFC_TENANT)
    token = session.fetch_token(
        meta["token_endpoint"], grant_type=DEVICE_GRANT, device_code=started["device_code"]
    )
    refreshed = session.refresh_token(meta["token_endpoint"])
    assert refreshed["access_token"] != token["access_token"]
    info = session.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == id_token_sub(token["id_token"])
    assert info["email"] == "erin@contoso.example"
