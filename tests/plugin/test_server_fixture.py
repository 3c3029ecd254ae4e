"""The pytest plugin's fixtures, used the way an application's tests use them."""

from __future__ import annotations

import os
import ssl
import urllib.request
from pathlib import Path

import httpx
import pytest
import requests

from deviceflow.client import DeviceFlowClient
from deviceflow.errors import AccessDeniedError, ExpiredTokenError
from deviceflow.graph import GraphClient
from deviceflow.testing import (
    CLIENT_ID,
    DISPLAY_NAME,
    TRUST_VARIABLES,
    DeviceFlowServer,
    ServerControlError,
    ServerFactory,
    serve,
)
from deviceflow.transports import UrllibTransport
from tests.support.clock import FakeClock


def client_for(server: DeviceFlowServer) -> DeviceFlowClient:
    """A deviceflow client of the server's app whose waits take no time."""
    clock = FakeClock(0.0)
    return DeviceFlowClient(
        server.client_id, authority=server.authority, clock=clock, sleep=clock.advance
    )


def test_the_server_describes_itself(deviceflow_server: DeviceFlowServer) -> None:
    server = deviceflow_server
    assert server.base_url.startswith("https://127.0.0.1:")
    assert server.authority == f"{server.base_url}/contoso"
    assert server.graph_url == server.base_url
    assert server.client_id == CLIENT_ID
    assert server.ca_file is not None and server.ca_file.is_file()
    discovery = requests.get(f"{server.authority}/v2.0/.well-known/openid-configuration").json()
    assert discovery["issuer"] == server.issuer
    assert discovery["token_endpoint"] == f"{server.authority}/oauth2/v2.0/token"


def test_requests_httpx_and_urllib_trust_the_local_ca(deviceflow_server: DeviceFlowServer) -> None:
    url = f"{deviceflow_server.authority}/v2.0/.well-known/openid-configuration"
    assert requests.get(url).status_code == 200
    assert httpx.get(url).status_code == 200
    with urllib.request.urlopen(url) as response:
        assert response.status == 200
    for name in TRUST_VARIABLES:
        bundle = Path(os.environ[name])
        assert deviceflow_server.ca_file is not None
        assert deviceflow_server.ca_file.read_bytes() in bundle.read_bytes()


def test_a_deviceflow_app_signs_in_and_reads_graph(deviceflow_server: DeviceFlowServer) -> None:
    client = client_for(deviceflow_server)
    issued = client.start(["User.Read"])
    deviceflow_server.approve(issued.user_code)
    token = client.wait(issued)
    graph = GraphClient(
        UrllibTransport(), lambda **_: token.access_token, base_url=deviceflow_server.graph_url
    )
    assert graph.get("me")["displayName"] == DISPLAY_NAME


def test_deny_and_expire_end_the_wait(deviceflow_server: DeviceFlowServer) -> None:
    client = client_for(deviceflow_server)
    denied = client.start(["User.Read"])
    deviceflow_server.deny(denied.user_code)
    with pytest.raises(AccessDeniedError):
        client.wait(denied)
    expired = client.start(["User.Read"])
    deviceflow_server.expire(expired.user_code)
    with pytest.raises(ExpiredTokenError):
        client.wait(expired)


def test_refused_control_requests_raise(deviceflow_server: DeviceFlowServer) -> None:
    with pytest.raises(ServerControlError, match="approve: ") as refused:
        deviceflow_server.approve("BCDFGHJKL")
    assert (refused.value.status, refused.value.error) == (404, "unknown_user_code")
    with pytest.raises(ServerControlError) as bad:
        deviceflow_server.set_presence("Sleepy", "Away")
    assert bad.value.status == 400


def test_failures_presence_and_throttling(deviceflow_server: DeviceFlowServer) -> None:
    server = deviceflow_server
    server.fail_next("slow_down", count=2, client_id="someone-else")
    server.throttle_graph(count=2, retry_after=4)
    status = server.status()
    assert status["token_failures"][0]["count"] == 2
    assert status["graph_throttled"] == 2
    server.reset()
    assert server.status()["token_failures"] == []
    client = client_for(server)
    issued = client.start(["User.Read", "Presence.Read"])
    server.approve(issued.user_code)
    token = client.wait(issued)
    server.set_presence("Busy", "InACall")
    server.throttle_graph(count=2, retry_after=4)
    waits: list[float] = []
    graph = GraphClient(
        UrllibTransport(), lambda **_: token.access_token, base_url=server.graph_url,
        sleep=waits.append,
    )  # fmt: skip
    presence = graph.get("me/presence")
    assert (presence["availability"], presence["activity"]) == ("Busy", "InACall")
    assert waits == [4.0, 4.0]


def test_the_factory_serves_other_setups(deviceflow_server_factory: ServerFactory) -> None:
    server = deviceflow_server_factory("rfc8628", tls=False, interval=3)
    assert server.base_url.startswith("http://") and server.ca_file is None
    started = httpx.post(
        f"{server.authority}/oauth2/v2.0/devicecode",
        data={"client_id": server.client_id, "scope": "openid User.Read"},
    ).json()
    assert started["interval"] == 3
    assert started["user_code"][4] == "-"  # the RFC format, not Entra's
    server.approve(started["user_code"])
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": started["device_code"],
        "client_id": server.client_id,
    }
    server.fail_next("authorization_pending")
    pending = httpx.post(f"{server.authority}/oauth2/v2.0/token", data=form)
    assert pending.json() == {
        "error": "authorization_pending",
        "error_description": "the user has not yet finished",
    }
    assert httpx.post(f"{server.authority}/oauth2/v2.0/token", data=form).status_code == 200


def test_an_unknown_dialect_is_refused(deviceflow_server_factory: ServerFactory) -> None:
    with pytest.raises(ValueError, match="dialect"):
        deviceflow_server_factory("google")


def test_a_server_in_a_subprocess(deviceflow_server_factory: ServerFactory) -> None:
    server = deviceflow_server_factory(subprocess=True)
    client = client_for(server)
    issued = client.start(["User.Read"])
    server.approve(issued.user_code)
    assert client.wait(issued).access_token
    server.stop()
    server.stop()  # stopping twice is fine


def test_serve_trusts_the_ca_only_within_its_block(tmp_path: Path) -> None:
    before = {name: os.environ.get(name) for name in TRUST_VARIABLES}
    with serve(users=[{"username": "zoe", "password": "zoe-Pa55word-123"}]) as server:
        assert server.username == "adele"  # the handle's default; this server has zoe only
        assert all(os.environ[name] != before[name] for name in TRUST_VARIABLES)
        url = f"{server.authority}/v2.0/.well-known/openid-configuration"
        with urllib.request.urlopen(url, context=ssl.create_default_context()) as response:
            assert response.status == 200
    assert {name: os.environ.get(name) for name in TRUST_VARIABLES} == before
    with serve(tls=False) as plain:
        assert plain.base_url.startswith("http://")


def test_a_server_that_cannot_start_says_why(
    deviceflow_server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RuntimeError, match="users\\[0\\].password"):
        deviceflow_server_factory(subprocess=True, users=[{"username": "nopassword"}])
    from deviceflow.testing import _server

    monkeypatch.setattr(_server._Server, "run", lambda self, sockets=None: None)
    with pytest.raises(RuntimeError, match="did not start"):
        deviceflow_server_factory()


def test_demanded_claims_are_passed_on(deviceflow_server: DeviceFlowServer) -> None:
    claims = {"access_token": {"acrs": {"essential": True, "value": "c1"}}}
    assert (
        deviceflow_server.demand_claims(claims)
        == '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}'
    )
