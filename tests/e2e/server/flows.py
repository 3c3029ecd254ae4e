"""What the device (real HTTP) and the person (Chromium) do in the e2e tests."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support.serverproc import CLIENT_ID, DEVICE_GRANT, PASSWORD, USERNAME, ServerProcess


def start_flow(
    server: ServerProcess, tenant: str = "contoso", scope: str = "openid offline_access User.Read"
) -> dict[str, Any]:
    """The device's authorization request; returns the §3.2 body."""
    response = httpx.post(
        f"{server.base_url}/{tenant}/oauth2/v2.0/devicecode",
        data={"client_id": CLIENT_ID, "scope": scope},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    server.remember(body["device_code"], body["user_code"])
    return body


def poll(server: ServerProcess, device_code: str, tenant: str = "contoso") -> httpx.Response:
    """One token request."""
    response = httpx.post(
        f"{server.base_url}/{tenant}/oauth2/v2.0/token",
        data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": CLIENT_ID},
    )
    if response.status_code == 200:
        body = response.json()
        server.remember(body.get("access_token"), body.get("refresh_token"), body.get("id_token"))
    return response


def poll_until_done(
    server: ServerProcess, flow: dict[str, Any], timeout: float = 20
) -> httpx.Response:
    """Poll honestly (the advertised interval, +5 s on ``slow_down``) until not pending."""
    interval = float(flow["interval"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(interval)
        response = poll(server, flow["device_code"])
        error = response.json().get("error") if response.status_code != 200 else None
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            return response
    raise AssertionError("flow did not finish in time")


def enter_code(page: Any, server: ServerProcess, user_code: str) -> None:
    """Type the user code on the verification page."""
    page.goto(f"{server.base_url}/devicelogin")
    page.get_by_label("Code").fill(user_code)
    page.get_by_role("button", name="Next").click()


def sign_in(page: Any, username: str = USERNAME, password: str = PASSWORD) -> None:
    """Fill and submit the sign-in form."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
