"""Harness for the Microsoft interop tests: ``deviceflow serve --tls`` and a Chromium approver.

One server per test module (a real subprocess on 127.0.0.1 with the local CA it creates); the
CA file is handed to the client libraries under test. The person approving is Debian's Chromium
driven by Playwright; it does not trust the local CA, so its context ignores certificate errors
(the client libraries, which are what we test, do verify it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.config import write_config
from tests.support.serverproc import ServerProcess

CLIENT_ID = "7c1c9f3e-2d8b-4f6a-9b1e-5a4d3c2b1a0f"
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
TENANT = "contoso"
TENANT_GUID = "3f2e1d0c-9b8a-4765-8432-10fedcba9876"
USERNAME, PASSWORD = "adele", "adele-Interop-Pa55"
SCOPES = [
    "openid", "profile", "email", "offline_access", "User.Read", "User.ReadBasic.All",
    "Presence.Read",
]  # fmt: skip


#: One Microsoft tenant (name, domain, GUID), our client and Azure CLI's, one user.
CONFIG: dict[str, Any] = {
    "interval": 1,
    "refresh_rotation": "microsoft",
    "tenants": [
        {
            "id": TENANT,
            "name": "Contoso",
            "dialect": "microsoft",
            "guid": TENANT_GUID,
            "domain": "contoso.example",
            "aliases": ["common", "organizations"],
        }
    ],
    "clients": [
        {"client_id": CLIENT_ID, "name": "Interop Lamp", "scopes": SCOPES},
        {"client_id": AZURE_CLI_CLIENT_ID, "name": "Azure CLI (emulated)", "scopes": SCOPES},
    ],
    "users": [
        {
            "username": USERNAME,
            "password": PASSWORD,
            "display_name": "Adele Vance",
            "given_name": "Adele",
            "surname": "Vance",
            "mail": "adele@contoso.example",
            "job_title": "Retail Manager",
            "preferred_language": "en-US",
        }
    ],
}


def tls_server(folder: Path) -> ServerProcess:
    """``deviceflow serve --tls`` on :data:`CONFIG` (not started yet), its data in ``folder``."""
    return ServerProcess(folder=folder, config=write_config(folder, CONFIG), tls=True)


def approve(browser: Any, base_url: str, user_code: str) -> None:
    """The person: open /devicelogin, type the code, sign in, approve."""
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.goto(f"{base_url}/devicelogin")
        page.get_by_label("Code").fill(user_code)
        page.get_by_role("button", name="Next").click()
        page.get_by_label("Username").fill(USERNAME)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Approve").click()
        assert "Device approved" in page.inner_text("body")
    finally:
        context.close()
