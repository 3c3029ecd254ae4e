"""MSAL Python (the real library) against ``deviceflow serve --tls``, approved in Chromium."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.interop.microsoft.emulator import CLIENT_ID, TENANT, TENANT_GUID, approve
from tests.support.serverproc import ServerProcess

msal = pytest.importorskip("msal")

pytestmark = [pytest.mark.interop, pytest.mark.xdist_group("ms-interop-msal")]


def test_msal_device_flow_then_silent_from_cache_then_refresh(
    emulator: ServerProcess, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca))
    assert f"REQUESTS_CA_BUNDLE={emulator.ca}" in emulator.stdout
    app = msal.PublicClientApplication(
        CLIENT_ID, authority=f"{emulator.base_url}/{TENANT}", instance_discovery=False
    )
    flow = app.initiate_device_flow(scopes=["User.Read"])
    assert flow["verification_uri"] == f"{emulator.base_url}/devicelogin", flow
    assert len(flow["user_code"]) == 9 and flow["user_code"] in flow["message"]
    assert "verification_uri_complete" not in flow
    approve(browser, emulator.base_url, flow["user_code"])
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    assert result["token_source"] == "identity_provider"
    assert result["id_token_claims"]["aud"] == CLIENT_ID
    (account,) = app.get_accounts()
    assert account["username"] == "adele@contoso.example"
    assert account["environment"] == "127.0.0.1"
    assert account["realm"] == TENANT_GUID or account["realm"] == TENANT
    assert account["home_account_id"].endswith(f".{TENANT_GUID}")

    cached = app.acquire_token_silent(["User.Read"], account=account)
    assert cached is not None and cached["token_source"] == "cache"
    assert cached["access_token"] == result["access_token"]

    # Force expiry of the cached access token: MSAL must refresh through our server.
    for entry in app.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN):
        app.token_cache.modify(
            msal.TokenCache.CredentialType.ACCESS_TOKEN,
            entry,
            {"expires_on": str(int(time.time()) + 60)},
        )
    refreshed = app.acquire_token_silent(["User.Read"], account=account)
    assert refreshed is not None and refreshed["token_source"] == "identity_provider", refreshed
    assert refreshed["access_token"] != result["access_token"]
