"""Test control in the in-process harness: a configuration with it on, and its API.

Used by ``tests/integration/testcontrol`` (and anything else that steers a server through
``/test-control/...``).
"""

from __future__ import annotations

import copy
from typing import Any

import httpx

from tests.support.app_harness import CONFIG, Harness

TOKEN = "test-control-token-for-tests"
SCOPES = [
    "openid", "profile", "offline_access", "User.Read", "Presence.Read", "Presence.ReadWrite",
    "Presence.Read.All",
]  # fmt: skip


def control_config() -> dict[str, Any]:
    """The harness configuration with test control on, presence scopes for the lamp, a second
    client (``other-lamp``), a second Microsoft-tenant user (``carol``) and a tenant without
    users (``lonely``)."""
    config = copy.deepcopy(CONFIG)
    config["test_control"] = True
    config["test_control_token"] = TOKEN
    config["clients"][0]["scopes"] = SCOPES
    config["clients"].append({"client_id": "other-lamp", "name": "Other", "scopes": SCOPES})
    config["users"].append(
        {"username": "carol", "password": "carol-pw-123", "display_name": "Carol",
         "tenant": "fabrikam"}
    )  # fmt: skip
    config["tenants"].append({"id": "lonely", "name": "No users", "dialect": "rfc8628"})
    return config


async def control(
    harness: Harness, action: str, body: dict[str, Any] | None = None, *, token: str = TOKEN
) -> httpx.Response:
    """``POST /test-control/{action}`` with ``body`` and the bearer ``token``."""
    return await harness.client().post(
        f"/test-control/{action}", json=body or {}, headers={"Authorization": f"Bearer {token}"}
    )
