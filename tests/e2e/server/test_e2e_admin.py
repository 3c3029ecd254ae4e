"""End to end: ``deviceflow admin`` against a running server's database, and "your devices".

A real ``deviceflow serve`` (SQLite, and PostgreSQL when it is there), the admin CLI as a real
subprocess on the same database, real HTTP for the devices and Debian's Chromium for the
person. The server is never restarted: what the CLI writes must be seen at the next request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.postgres import fresh_database
from tests.support.serverproc import DEVICE_GRANT, PASSWORD, ServerProcess, e2e_server, serving
from tests.support.tools import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-server-admin")]

DANA_PASSWORD = "dana-Adm1n-e2e-pass"


def admin(server: ServerProcess, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``deviceflow admin ARGS`` on ``server``'s configuration and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICEFLOW_")}
    env["DEVICEFLOW_DATA_DIR"] = str(server.folder / "data")
    db = server.db_url or f"sqlite:///{server.db}"
    command = [sys.executable, "-m", "deviceflow", "admin", *args]
    command += ["--config", str(server.config), "--db", db]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    if request.param == "sqlite":
        proc = e2e_server(tmp_path)
        proc.remember(PASSWORD, DANA_PASSWORD)
        with serving(proc, clean=True):
            yield proc
        return
    with fresh_database() as url:
        proc = e2e_server(tmp_path, db_url=url)
        proc.remember(PASSWORD, DANA_PASSWORD)
        with serving(proc, clean=True):
            yield proc


def start(
    server: ServerProcess, tenant: str, client_id: str, user_agent: str = "e2e"
) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base_url}/{tenant}/oauth2/v2.0/devicecode",
        data={"client_id": client_id, "scope": "openid offline_access User.Read"},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    server.remember(body["device_code"], body["user_code"])
    return body


def token(
    server: ServerProcess, tenant: str, data: dict[str, str], user_agent: str
) -> httpx.Response:
    response = httpx.post(
        f"{server.base_url}/{tenant}/oauth2/v2.0/token",
        data=data,
        headers={"User-Agent": user_agent},
    )
    if response.status_code == 200:
        body = response.json()
        server.remember(body.get("access_token"), body.get("refresh_token"), body.get("id_token"))
    return response


def approve_in_browser(
    page: Any, server: ServerProcess, user_code: str, username: str, password: str
) -> str:
    """Enter the code, sign in, approve; returns the page's text after signing in."""
    page.goto(f"{server.base_url}/devicelogin")
    page.get_by_label("Code").fill(user_code)
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()  # the click returns once the new page commits, not once it loads
    text: str = page.inner_text("body")
    if "Approve" in text:
        page.get_by_role("button", name="Approve").click()
        page.wait_for_load_state()
        assert "Device approved" in page.inner_text("body")
    return text


def sign_in_device(
    server: ServerProcess, page: Any, tenant: str, client_id: str, user: tuple[str, str], agent: str
) -> dict[str, Any]:
    flow = start(server, tenant, client_id, agent)
    approve_in_browser(page, server, flow["user_code"], *user)
    data = {"grant_type": DEVICE_GRANT, "device_code": flow["device_code"], "client_id": client_id}
    response = token(server, tenant, data, agent)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def refresh(
    server: ServerProcess, tenant: str, client_id: str, tokens: dict[str, Any], agent: str
) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": client_id}  # fmt: skip
    return token(server, tenant, data, agent)


def test_admin_cli_user_and_client_sign_in_without_restart_then_disabled(
    server: ServerProcess, page: Any
) -> None:
    added = admin(
        server, "users", "add", "dana", "--tenant", "contoso", "--display-name", "Dana Admin",
        "--password-stdin", "--json", stdin=DANA_PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["username"] == "dana"
    assert "admin_user_added" in added.stderr  # audited
    client = admin(server, "clients", "add", "Admin Lamp", "--client-id", "admin-lamp",
                   "--tenant", "contoso", "--json")  # fmt: skip
    assert client.returncode == 0, client.stderr
    assert json.loads(client.stdout)["public"] is True
    listed = admin(server, "users", "list", "--tenant", "contoso", "--json")
    sources = {u["username"]: u["source"] for u in json.loads(listed.stdout)}
    assert sources == {"erin": "config", "dana": "database"}

    tokens = sign_in_device(server, page, "contoso", "admin-lamp", ("dana", DANA_PASSWORD), "e2e")
    me = httpx.get(
        f"{server.base_url}/v1.0/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["displayName"] == "Dana Admin"

    assert admin(server, "users", "disable", "dana", "--tenant", "contoso").returncode == 0
    flow = start(server, "contoso", "admin-lamp")
    page.context.clear_cookies()
    text = approve_in_browser(page, server, flow["user_code"], "dana", DANA_PASSWORD)
    assert "That username or password is not right." in text
    assert "Approve" not in text
    assert (
        refresh(server, "contoso", "admin-lamp", tokens, "e2e").json()["error"] == "invalid_grant"
    )

    # A configured user's name is the file's: the CLI refuses it with its own exit code.
    clash = admin(server, "users", "add", "erin", "--password-stdin", stdin="whatever-long\n")
    assert clash.returncode == 2 and "configuration file" in clash.stderr
    assert DANA_PASSWORD not in added.stdout + added.stderr


def test_your_devices_revoke_one_of_two(server: ServerProcess, page: Any) -> None:
    # A user and a client of the Microsoft tenant, made with the CLI on the running server.
    added = admin(server, "users", "add", "finn", "--tenant", "fabrikam", "--password-stdin",
                  stdin=DANA_PASSWORD + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    made = admin(server, "clients", "add", "Fabrikam Lamp", "--client-id", "fab-lamp",
                 "--tenant", "fabrikam")  # fmt: skip
    assert made.returncode == 0, made.stderr
    finn = ("finn", DANA_PASSWORD)
    lamp = sign_in_device(server, page, "fabrikam", "fab-lamp", finn, "LampOS/1.0")
    page.context.clear_cookies()
    thermo = sign_in_device(server, page, "fabrikam", "fab-lamp", finn, "ThermoOS/2.0")
    assert refresh(server, "fabrikam", "fab-lamp", thermo, "ThermoOS/2.1").status_code == 200

    # The approval page links to the person's devices (the browser is signed in already).
    page.get_by_role("link", name="See the devices signed in as you").click()
    page.wait_for_load_state()
    assert page.locator("section.device").count() == 2
    # A browser that is not signed in gets the page's own sign-in form first.
    page.context.clear_cookies()
    page.goto(f"{server.base_url}/devices")
    page.get_by_label("Username").fill("finn")
    page.get_by_label("Password").fill(DANA_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    devices = page.locator("section.device")
    assert devices.count() == 2
    text = page.inner_text("body")
    assert "Fabrikam Lamp" in text and "LampOS/1.0" in text and "ThermoOS/2.1" in text
    assert "127.0.0.1" in text
    devices.filter(has_text="ThermoOS/2.1").get_by_role("button").click()
    page.wait_for_load_state()
    assert "is signed out" in page.inner_text("body")
    assert page.locator("section.device").count() == 1

    refused = refresh(server, "fabrikam", "fab-lamp", thermo, "ThermoOS/2.1")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert 50173 in refused.json()["error_codes"]
    assert refresh(server, "fabrikam", "fab-lamp", lamp, "LampOS/1.0").status_code == 200

    # The admin's view: one session left, and revoking it from the CLI works too.
    listed = admin(server, "sessions", "list", "--user", "finn", "--tenant", "fabrikam", "--json")
    sessions = json.loads(listed.stdout)
    assert [s["user_agent"] for s in sessions] == ["LampOS/1.0"]
    revoked = admin(server, "sessions", "revoke", sessions[0]["id"], "--user", "finn",
                    "--tenant", "fabrikam")  # fmt: skip
    assert revoked.returncode == 0 and "device_session_revoked" in revoked.stderr
    assert (
        json.loads(
            admin(
                server, "sessions", "list", "--user", "finn", "--tenant", "fabrikam", "--json"
            ).stdout
        )
        == []
    )
    again = refresh(server, "fabrikam", "fab-lamp", lamp, "LampOS/1.0")
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # The page's revocation was audited in the server's log.
    assert "device_session_revoked" in "".join(p.read_text() for p in server.log_files())
