"""The plugin as an application's test suite meets it: a fresh folder, a test file, ``pytest``.

Nothing from this repository's tests is on the path there: only the installed deviceflow (its
``pytest11`` entry point) and the client libraries under test. The MSAL tests are the issue's
acceptance criteria; they run in a child ``pytest`` process, as in a user's CI.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.support.userland import run_pytest

MSAL_TESTS = '''
import base64
import re

import msal
import requests

SCOPES = ["User.Read"]


class MsalClock:
    """MSAL's clock and sleep in the device flow loop: sleeping is recorded, not waited."""

    def __init__(self, real):
        self.real = real
        self.slept = 0

    def time(self):
        return self.real.time() + self.slept

    def sleep(self, seconds):
        self.slept += seconds


def make_app(server):
    return msal.PublicClientApplication(
        server.client_id, authority=server.authority, instance_discovery=False
    )


def me(server, token):
    headers = {"Authorization": "Bearer " + token}
    return requests.get(server.graph_url + "/v1.0/me", headers=headers)


def test_sign_in_with_the_device_flow(deviceflow_server):
    app = make_app(deviceflow_server)
    flow = app.initiate_device_flow(SCOPES)
    deviceflow_server.approve(flow["user_code"])
    result = app.acquire_token_by_device_flow(flow)
    assert me(deviceflow_server, result["access_token"]).json()["displayName"] == "Adele Vance"
    assert app.get_accounts()[0]["username"] == "adele@contoso.example"


def test_pending_and_slow_down_are_waited_out(deviceflow_server, monkeypatch):
    import msal.oauth2cli.oauth2 as oauth2

    clock = MsalClock(oauth2.time)
    monkeypatch.setattr(oauth2, "time", clock)
    app = make_app(deviceflow_server)
    flow = app.initiate_device_flow(SCOPES)
    interval = flow["interval"]
    deviceflow_server.approve(flow["user_code"])
    deviceflow_server.fail_next("authorization_pending")
    deviceflow_server.fail_next("slow_down")
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result
    # pending: one interval; slow_down: the interval grows by 5 s (RFC 8628 3.5), then tokens.
    assert flow["interval"] == interval + 5
    assert clock.slept == interval + (interval + 5)


def test_mfa_required_ends_the_flow(deviceflow_server):
    app = make_app(deviceflow_server)
    flow = app.initiate_device_flow(SCOPES)
    deviceflow_server.approve(flow["user_code"])
    deviceflow_server.fail_next(aadsts=50076)
    result = app.acquire_token_by_device_flow(flow)
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [50076]
    assert result["error_description"].startswith("AADSTS50076: ")


def challenge_of(response):
    assert response.status_code == 401
    header = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_claims"' in header
    return base64.b64decode(re.search('claims="([^"]+)"', header).group(1)).decode()


def test_a_claims_challenge_is_answered_silently(deviceflow_server):
    app = make_app(deviceflow_server)
    flow = app.initiate_device_flow(SCOPES)
    deviceflow_server.approve(flow["user_code"])
    first = app.acquire_token_by_device_flow(flow)["access_token"]
    deviceflow_server.demand_claims()
    claims = challenge_of(me(deviceflow_server, first))
    account = app.get_accounts()[0]
    again = app.acquire_token_silent(SCOPES, account, claims_challenge=claims)
    assert me(deviceflow_server, again["access_token"]).status_code == 200


def test_revoked_sessions_need_a_new_sign_in(deviceflow_server):
    app = make_app(deviceflow_server)
    flow = app.initiate_device_flow(SCOPES)
    deviceflow_server.approve(flow["user_code"])
    first = app.acquire_token_by_device_flow(flow)["access_token"]
    deviceflow_server.revoke_sessions()
    claims = challenge_of(me(deviceflow_server, first))
    account = app.get_accounts()[0]
    refused = app.acquire_token_silent_with_error(SCOPES, account, claims_challenge=claims)
    assert refused["error_codes"] == [50173]
    flow = app.initiate_device_flow(SCOPES)
    deviceflow_server.approve(flow["user_code"])
    again = app.acquire_token_by_device_flow(flow, claims_challenge=claims)
    assert me(deviceflow_server, again["access_token"]).status_code == 200
'''


def test_msal_app_tests_pass_with_only_the_installed_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_msal_app.py").write_text(textwrap.dedent(MSAL_TESTS))
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_the_plugin_can_be_turned_off(tmp_path: Path) -> None:
    (tmp_path / "test_off.py").write_text("def test_x(deviceflow_server):\n    pass\n")
    result = run_pytest(tmp_path, "-p", "no:deviceflow")
    assert result.returncode == 1
    assert "fixture 'deviceflow_server' not found" in result.stdout
