"""deviceflow.azure's credentials (under Microsoft's Graph SDK too) and deviceflow.auth's token
sources and auth classes, against the plugin's server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError

from deviceflow.auth import HttpxAuth, ProfileTokens, RequestsAuth, TokenHolder
from deviceflow.azure import AsyncDeviceFlowCredential, DeviceFlowCredential, profile_scopes
from deviceflow.cache.file import FileTokenCache
from deviceflow.challenge import claims_challenge
from deviceflow.cli.tokens import new_entry
from deviceflow.client import DeviceFlowClient
from deviceflow.core import Token
from deviceflow.errors import InvalidGrantError
from deviceflow.graph import GraphClient, GraphUnauthorizedError
from deviceflow.testing import DISPLAY_NAME, DeviceFlowServer
from deviceflow.transports import UrllibTransport
from tests.support.clock import FakeClock

SCOPES = ["openid", "profile", "offline_access", "User.Read"]


def signed_in(
    server: DeviceFlowServer, claims: str | None = None
) -> tuple[DeviceFlowClient, Token]:
    clock = FakeClock(0.0)
    client = DeviceFlowClient(
        server.client_id, authority=server.authority, clock=clock, sleep=clock.advance
    )
    issued = client.start(SCOPES, claims=claims)
    server.approve(issued.user_code)
    return client, client.wait(issued)


def profile_in(folder: Path, server: DeviceFlowServer) -> dict[str, str]:
    """A signed-in CLI profile in ``folder``; the environment that names it."""
    client, token = signed_in(server)
    assert client.endpoints is not None
    entry = new_entry(
        token,
        client_id=server.client_id,
        endpoints=client.endpoints,
        scopes=SCOPES,
        resource=None,
        now=time.time(),
    )
    FileTokenCache(folder).save("default", entry)
    return {"DEVICEFLOW_CACHE": str(folder)}


async def close_sdk(graph: Any) -> None:
    """Close the Graph SDK's HTTP client before the event loop ends. The SDK never closes it,
    and msgraph-core 1.5.2's transport wrapper does not close the transport it wraps."""
    client = graph.request_adapter._http_client
    wrapped = getattr(client._transport, "transport", None)
    await client.aclose()
    if wrapped is not None:
        await wrapped.aclose()


def me_url(server: DeviceFlowServer) -> str:
    return f"{server.graph_url}/v1.0/me"


# msgraph-sdk's generated modules warn about their own deprecated classes when imported.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("kind", [DeviceFlowCredential, AsyncDeviceFlowCredential])
def test_graph_sdk_reads_me_and_waits_out_throttling(
    deviceflow_server: DeviceFlowServer, tmp_path: Path, kind: type[Any]
) -> None:
    from msgraph.graph_service_client import GraphServiceClient

    environ = profile_in(tmp_path, deviceflow_server)

    async def scenario() -> list[str | None]:
        credential = kind(environ=environ)
        graph = GraphServiceClient(credentials=credential, scopes=["User.Read"])
        graph.request_adapter.base_url = f"{deviceflow_server.graph_url}/v1.0"
        names = [(await graph.me.get()).display_name]  # type: ignore[union-attr]
        deviceflow_server.throttle_graph()  # one 429 with Retry-After: 1
        names.append((await graph.me.get()).display_name)  # type: ignore[union-attr]
        deviceflow_server.demand_claims()  # a claims challenge: the SDK asks for new claims
        names.append((await graph.me.get()).display_name)  # type: ignore[union-attr]
        await close_sdk(graph)
        return names

    assert asyncio.run(scenario()) == [DISPLAY_NAME] * 3
    assert deviceflow_server.status()["graph_throttled"] == 0


def test_the_sync_credential(deviceflow_server: DeviceFlowServer, tmp_path: Path) -> None:
    environ = profile_in(tmp_path, deviceflow_server)
    with DeviceFlowCredential(environ=environ) as credential:
        token = credential.get_token("https://graph.microsoft.com/.default")
        assert token.expires_on > time.time()
        assert requests.get(me_url(deviceflow_server), headers={
            "Authorization": f"Bearer {token.token}"}).status_code == 200  # fmt: skip
        info = credential.get_token_info(
            "User.Read", options={"claims": deviceflow_server.demand_claims()}
        )
        assert info.token != token.token and info.token_type == "Bearer"
        assert requests.get(me_url(deviceflow_server), headers={
            "Authorization": f"Bearer {info.token}"}).status_code == 200  # fmt: skip
        deviceflow_server.revoke_sessions()
        with pytest.raises(
            ClientAuthenticationError, match="(?i)sign in again with: deviceflow login"
        ):
            credential.get_token("User.Read", claims='{"access_token":{}}')
        with pytest.raises(ClientAuthenticationError, match="tenant_id"):
            credential.get_token("User.Read", tenant_id="other")


def test_no_profile_means_a_sign_in_is_needed(tmp_path: Path) -> None:
    credential = DeviceFlowCredential(environ={"DEVICEFLOW_CACHE": str(tmp_path)})
    with pytest.raises(ClientAuthenticationError, match="deviceflow login"):
        credential.get_token("User.Read")

    async def info() -> None:
        async with AsyncDeviceFlowCredential(environ={"DEVICEFLOW_CACHE": str(tmp_path)}) as cred:
            await cred.get_token_info("User.Read")

    with pytest.raises(ClientAuthenticationError):
        asyncio.run(info())


@pytest.mark.parametrize(
    ("asked", "profile"),
    [
        pytest.param(["https://graph.microsoft.com/.default"], (), id="default"),
        pytest.param([".default", "User.Read"], ("User.Read",), id="bare-default"),
        pytest.param(["https://graph.microsoft.com/User.Read", "api://x/y"],
                     ("User.Read", "api://x/y"), id="prefixed"),
        pytest.param(["00000003-0000-0000-c000-000000000000/Mail.Read"], ("Mail.Read",),
                     id="graph-app-id"),
    ],
)  # fmt: skip
def test_profile_scopes(asked: list[str], profile: tuple[str, ...]) -> None:
    assert profile_scopes(asked) == profile


def test_token_holder_answers_a_challenge_and_a_revocation_needs_a_sign_in(
    deviceflow_server: DeviceFlowServer,
) -> None:
    client, token = signed_in(deviceflow_server)
    holder = TokenHolder(client, token)
    graph = GraphClient(UrllibTransport(), holder, base_url=deviceflow_server.graph_url)
    assert graph.get("me")["displayName"] == DISPLAY_NAME
    deviceflow_server.demand_claims()
    assert graph.get("me")["displayName"] == DISPLAY_NAME  # refreshed with the claims
    assert holder.token is not token
    deviceflow_server.revoke_sessions()
    with pytest.raises(GraphUnauthorizedError) as refused:
        graph.get("me")
    assert refused.value.claims is not None
    client, token = signed_in(deviceflow_server, claims=refused.value.claims)
    graph = GraphClient(
        UrllibTransport(), TokenHolder(client, token), base_url=deviceflow_server.graph_url
    )
    assert graph.get("me")["displayName"] == DISPLAY_NAME


def test_token_holder_refreshes_a_token_near_expiry(deviceflow_server: DeviceFlowServer) -> None:
    client, token = signed_in(deviceflow_server)
    now = [time.time()]
    holder = TokenHolder(client, token, clock=lambda: now[0])
    assert holder() == token.access_token
    now[0] += 3600
    assert holder() != token.access_token


def test_requests_auth_retries_a_challenge_once(deviceflow_server: DeviceFlowServer) -> None:
    client, token = signed_in(deviceflow_server)
    with requests.Session() as session:
        session.auth = RequestsAuth(TokenHolder(client, token))
        assert session.get(me_url(deviceflow_server)).json()["displayName"] == DISPLAY_NAME
        deviceflow_server.demand_claims()
        answer = session.get(me_url(deviceflow_server))
        assert answer.status_code == 200
        assert [r.status_code for r in answer.history] == [401]
        deviceflow_server.revoke_sessions()
        with pytest.raises(InvalidGrantError):
            session.get(me_url(deviceflow_server))


def test_requests_auth_gives_up_after_one_retry(deviceflow_server: DeviceFlowServer) -> None:
    with requests.Session() as session:
        session.auth = RequestsAuth(lambda **_: "not-a-token")
        answer = session.get(me_url(deviceflow_server))
    assert answer.status_code == 401 and len(answer.history) == 1
    assert claims_challenge(answer.headers["WWW-Authenticate"]) is None


def test_httpx_auth_sync_and_async(deviceflow_server: DeviceFlowServer) -> None:
    client, token = signed_in(deviceflow_server)
    auth = HttpxAuth(TokenHolder(client, token))
    with httpx.Client(auth=auth) as http:
        assert http.get(me_url(deviceflow_server)).json()["displayName"] == DISPLAY_NAME
        deviceflow_server.demand_claims()
        assert http.get(me_url(deviceflow_server)).status_code == 200

    async def scenario() -> int:
        async with httpx.AsyncClient(auth=auth) as http:
            deviceflow_server.demand_claims()
            return (await http.get(me_url(deviceflow_server))).status_code

    assert asyncio.run(scenario()) == 200


def test_profile_tokens_are_a_token_source(
    deviceflow_server: DeviceFlowServer, tmp_path: Path
) -> None:
    tokens = ProfileTokens(environ=profile_in(tmp_path, deviceflow_server), scopes=["User.Read"])
    first = tokens()
    assert tokens() == first  # cached
    assert tokens(force_refresh=True) != first
    graph = GraphClient(UrllibTransport(), tokens, base_url=deviceflow_server.graph_url)
    deviceflow_server.demand_claims()
    assert graph.get("me")["displayName"] == DISPLAY_NAME


def test_auth_module_has_no_other_attributes() -> None:
    import deviceflow.auth

    with pytest.raises(AttributeError):
        deviceflow.auth.Nothing  # noqa: B018
