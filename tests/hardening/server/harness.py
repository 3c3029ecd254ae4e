"""The in-process harness of the hardening tests, remembering every secret it sees.

It is the integration harness (``create_app`` behind ``httpx.ASGITransport``) with a richer
configuration (policies, hostile names) and a response hook that keeps every device code, user
code and token the server hands out, so the log guard of ``conftest.py`` can look for them in
everything the server logged.
"""

from __future__ import annotations

import base64
import json
import os
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx

from deviceflow.server.security import hash_password
from deviceflow.server.settings import Settings
from deviceflow.server.storage.base import Storage
from tests.support.app_harness import Harness, running_as
from tests.support.clock import FakeClock
from tests.support.pages import csrf_of

SOAK = os.environ.get("DEVICEFLOW_SOAK") == "1"
"""Opt-in long variants (``DEVICEFLOW_SOAK=1``, or ``scripts/reliability --soak``)."""


def scaled(normal: int, soak: int) -> int:
    """An iteration count: modest by default, larger in a soak run."""
    return soak if SOAK else normal


LAMP = "hardening-lamp"
RESOURCE_SERVER = ("hardening-api", "Hr7-zQ8vWm7pL0zR4tB8nC6yH1jF3gAe5dUo_Kp")
"""A confidential client: introspection answers authenticated clients only (RFC 7662 §2.1)."""
HOSTILE_NAME = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
ALICE = ("alice", "alice-hardening-pw")
BOB = ("bob", "bob-hardening-pw")
GINA = ("gina", "gina-hardening-pw")
PASSWORDS = (ALICE[1], BOB[1], GINA[1], RESOURCE_SERVER[1])
TRUSTED = "10.20.0.0/16"

_SCOPES = ["openid", "profile", "offline_access", "User.Read", "Presence.Read"]

CONFIG: dict[str, Any] = {
    "public_url": "http://testserver",
    "tenants": [
        {"id": "contoso", "name": "Contoso", "dialect": "rfc8628", "trusted_networks": [TRUSTED]},
        {"id": "fabrikam", "name": "Fabrikam", "dialect": "microsoft"},
        {"id": "guarded", "name": "Guarded", "dialect": "rfc8628", "proximity": "block"},
        {"id": "closed", "name": "Closed", "dialect": "rfc8628", "device_flow": False},
        {"id": "closed-ms", "name": "Closed MS", "dialect": "microsoft", "device_flow": False},
    ],
    "clients": [
        {"client_id": LAMP, "name": "Hardening Lamp", "scopes": _SCOPES},
        {"client_id": "hostile", "name": HOSTILE_NAME, "scopes": _SCOPES},
        {"client_id": "warn-lamp", "name": "Warn Lamp", "scopes": _SCOPES, "proximity": "warn"},
        {"client_id": "near-lamp", "name": "Near Lamp", "scopes": _SCOPES, "proximity": "block"},
        {
            "client_id": "short-lamp",
            "name": "Short Lamp",
            "scopes": _SCOPES,
            "device_access_token_lifetime": 600,
            "device_scopes": ["openid", "offline_access", "User.Read"],
        },
        {"client_id": "no-device", "name": "No Device", "device_flow_enabled": False},
        {
            "client_id": RESOURCE_SERVER[0],
            "name": "Hardening API",
            "public": False,
            "secret_hash": hash_password(RESOURCE_SERVER[1]),
        },
    ],
    "users": [
        {"username": ALICE[0], "password": ALICE[1], "display_name": "Alice", "tenant": "contoso"},
        {"username": BOB[0], "password": BOB[1], "display_name": "Bob", "tenant": "fabrikam"},
        {"username": GINA[0], "password": GINA[1], "display_name": "Gina", "tenant": "guarded"},
    ],
}
CREDENTIALS = {"contoso": ALICE, "fabrikam": BOB, "guarded": GINA}


def hardening_settings(**changes: Any) -> Settings:
    """The hardening configuration, with top-level keys replaced by ``changes``."""
    return Settings.from_mapping({**CONFIG, **changes})


def with_tenant(tenant_id: str, **changes: Any) -> Settings:
    """The hardening configuration with one tenant's keys changed (a configuration flip)."""
    tenants = [{**t, **changes} if t["id"] == tenant_id else t for t in CONFIG["tenants"]]
    return hardening_settings(tenants=tenants)


def claims_of(jwt: str) -> dict[str, Any]:
    """The (unverified) payload of a JWT, to look at claims."""
    payload = jwt.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


SECRET_KEYS = ("device_code", "user_code", "access_token", "refresh_token", "id_token")


def remember_body(body: object, seen: set[str]) -> None:
    """Add the secrets of a JSON response body to ``seen`` (user codes also without dash)."""
    if not isinstance(body, dict):
        return
    for key in SECRET_KEYS:
        value = body.get(key)
        if isinstance(value, str) and value:
            seen.add(value)
            if key == "user_code":
                seen.add(value.replace("-", ""))


@dataclass
class GuardedHarness(Harness):
    """A :class:`Harness` whose clients report every secret the server sends."""

    seen: set[str] = field(default_factory=set)
    client_id: str = LAMP
    users: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(CREDENTIALS))

    def client(self, ip: str = "127.0.0.1", *, raise_errors: bool = True) -> httpx.AsyncClient:
        client = super().client(ip, raise_errors=raise_errors)
        client.event_hooks["response"].append(self._remember)
        return client

    async def _remember(self, response: httpx.Response) -> None:
        await response.aread()
        if "json" not in response.headers.get("content-type", ""):
            return
        try:
            remember_body(response.json(), self.seen)
        except ValueError:
            return

    async def approve(
        self,
        user_code: str,
        *,
        tenant: str = "contoso",
        ip: str = "127.0.0.1",
        decision: str = "approve",
    ) -> httpx.Response:
        """Enter the code, sign in as the tenant's user and decide, from ``ip``."""
        return await self.decide(
            user_code, decision, credentials=CREDENTIALS[tenant], browser=self.client(ip)
        )

    async def approve_after_entry(
        self, user_code: str, *, tenant: str = "contoso", ip: str = "127.0.0.1"
    ) -> httpx.Response:
        """Try to approve in a fresh browser: the first refusal page it meets, or the result."""
        browser, page = await self.confirm_page(user_code, tenant=tenant, ip=ip)
        if "decision" not in page.text:
            return page
        return await browser.post(
            "/devicelogin/decide",
            data={"csrf_token": csrf_of(page.text), "code": user_code, "decision": "approve"},
        )

    async def confirm_page(
        self, user_code: str, *, tenant: str = "contoso", ip: str = "127.0.0.1"
    ) -> tuple[httpx.AsyncClient, httpx.Response]:
        """Enter the code and sign in from ``ip``; return the browser and the page it got."""
        browser = self.client(ip)
        entered = await self.enter_code(browser, user_code)
        if entered.status_code != 200:
            return browser, entered
        return browser, await self.sign_in(browser, entered, user_code, CREDENTIALS[tenant])

    async def refresh(
        self, refresh_token: str, tenant: str = "contoso", client_id: str = LAMP
    ) -> httpx.Response:
        """One refresh-token request."""
        return await self.client().post(
            f"/{tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
            },
        )

    async def introspect(self, token: str, tenant: str = "contoso") -> dict[str, Any]:
        """RFC 7662 introspection of ``token`` at ``tenant``, as its resource server."""
        response = await self.client().post(
            f"/{tenant}/oauth2/v2.0/introspect", data={"token": token}, auth=RESOURCE_SERVER
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


def guarded(
    settings: Settings, storage: Storage | None = None, clock: FakeClock | None = None
) -> AbstractAsyncContextManager[GuardedHarness]:
    """A :class:`GuardedHarness` around a fresh app (memory storage unless given)."""
    return running_as(GuardedHarness, settings, storage, clock)
