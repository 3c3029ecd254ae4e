"""In-process harness for the authorization server: app + httpx over ASGITransport.

Used by the integration, conformance and hardening tests (:mod:`tests.support.fixtures` gives
them the ``server`` fixture). Time is a :class:`FakeClock` the tests move;
randomness is real (codes must be unguessable even in tests). Each "browser" or "device" is its
own :class:`httpx.AsyncClient`, optionally from its own client IP.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette

from deviceflow.server.app import create_app
from deviceflow.server.settings import Settings
from deviceflow.server.storage import open_storage
from deviceflow.server.storage.base import Storage
from tests.support.clock import FakeClock
from tests.support.pages import csrf_of

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
BASE = "http://testserver"
CLIENT_ID = "desk-lamp"
CLIENT_NAME = "Desk Lamp <script>alert(1)</script>"
ALICE = ("alice", "alice-pw-123")
BOB = ("bob", "bob-pw-123")

CONFIG: dict[str, Any] = {
    "public_url": BASE,
    "tenants": [
        {
            "id": "contoso",
            "name": "Contoso",
            "dialect": "rfc8628",
            "guid": "11111111-2222-4333-8444-555555555555",
            "aliases": ["contoso.example"],
        },
        {
            "id": "fabrikam",
            "name": "Fabrikam",
            "dialect": "microsoft",
            "domain": "fabrikam.example",
        },
    ],
    "clients": [
        {
            "client_id": CLIENT_ID,
            "name": CLIENT_NAME,
            "scopes": ["openid", "profile", "offline_access", "User.Read", "Presence.Read"],
            "client_uri": "https://lamp.example",
        },
        {"client_id": "no-device", "name": "No Device", "device_flow_enabled": False},
    ],
    "users": [
        {
            "username": ALICE[0],
            "password": ALICE[1],
            "display_name": "Alice Example",
            "given_name": "Alice",
            "surname": "Example",
            "mail": "alice@contoso.example",
            "tenant": "contoso",
            "job_title": "Engineer",
        },
        {"username": BOB[0], "password": BOB[1], "display_name": "Bob", "tenant": "fabrikam"},
    ],
}


def harness_settings() -> Settings:
    """The harness configuration (hashing the passwords takes a moment: build it once)."""
    return Settings.from_mapping(CONFIG)


@dataclass
class Harness:
    """One app, its clock and storage, and a factory for clients.

    ``client_id`` is the device's client unless a call names another; ``users`` is who signs
    in to approve a flow of each tenant.
    """

    app: Starlette
    clock: FakeClock
    storage: Storage
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    client_id: str = CLIENT_ID
    users: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {"contoso": ALICE, "fabrikam": BOB}
    )

    def client(self, ip: str = "127.0.0.1", *, raise_errors: bool = True) -> httpx.AsyncClient:
        """A new HTTP client (its own cookie jar) connecting from ``ip``."""
        transport = httpx.ASGITransport(
            app=self.app, client=(ip, 50000), raise_app_exceptions=raise_errors
        )
        client = httpx.AsyncClient(transport=transport, base_url=BASE)
        self.clients.append(client)
        return client

    async def authorize(
        self,
        tenant: str = "contoso",
        *,
        scope: str = "openid profile offline_access User.Read",
        client_id: str | None = None,
        ip: str = "127.0.0.1",
    ) -> dict[str, Any]:
        """Run a device authorization request and return the JSON body (asserting 200)."""
        device = self.client(ip)
        response = await device.post(
            f"/{tenant}/oauth2/v2.0/devicecode",
            data={"client_id": client_id or self.client_id, "scope": scope},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def poll(
        self, device_code: str, tenant: str = "contoso", *, client_id: str | None = None
    ) -> httpx.Response:
        """One token request for ``device_code``."""
        device = self.client()
        form = {"grant_type": DEVICE_GRANT, "device_code": device_code}
        return await device.post(
            f"/{tenant}/oauth2/v2.0/token", data={**form, "client_id": client_id or self.client_id}
        )

    async def enter_code(self, browser: httpx.AsyncClient, user_code: str) -> httpx.Response:
        """Open the verification page in ``browser`` and submit ``user_code``."""
        page = await browser.get("/devicelogin")
        return await browser.post(
            "/devicelogin", data={"csrf_token": csrf_of(page.text), "code": user_code}
        )

    async def sign_in(
        self,
        browser: httpx.AsyncClient,
        page: httpx.Response,
        user_code: str,
        credentials: tuple[str, str] = ALICE,
    ) -> httpx.Response:
        """Submit the sign-in form shown on ``page``."""
        return await browser.post(
            "/devicelogin/signin",
            data={
                "csrf_token": csrf_of(page.text),
                "code": user_code,
                "username": credentials[0],
                "password": credentials[1],
            },
        )

    async def decide(
        self,
        user_code: str,
        decision: str = "approve",
        *,
        credentials: tuple[str, str] = ALICE,
        browser: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """The whole browser side: enter code, sign in, approve or deny."""
        browser = browser or self.client()
        entered = await self.enter_code(browser, user_code)
        assert entered.status_code == 200, entered.text
        confirm = await self.sign_in(browser, entered, user_code, credentials)
        assert confirm.status_code == 200, confirm.text
        return await browser.post(
            "/devicelogin/decide",
            data={"csrf_token": csrf_of(confirm.text), "code": user_code, "decision": decision},
        )

    async def tokens(
        self, tenant: str = "contoso", *, client_id: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """A complete approved flow; returns the token response body."""
        started = await self.authorize(tenant, client_id=client_id, **kwargs)
        result = await self.decide(started["user_code"], credentials=self.users[tenant])
        assert result.status_code == 200, result.text
        self.clock.advance(started["interval"])
        response = await self.poll(started["device_code"], tenant, client_id=client_id)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


AnyHarness = TypeVar("AnyHarness", bound=Harness)


@asynccontextmanager
async def running_as(
    kind: type[AnyHarness],
    settings: Settings,
    storage: Storage | None = None,
    clock: FakeClock | None = None,
) -> AsyncIterator[AnyHarness]:
    """A ``kind`` of :class:`Harness` around a fresh app (memory storage unless given)."""
    storage = storage or open_storage("memory:")
    clock = clock or FakeClock()
    app = create_app(settings, storage=storage, clock=clock, rng=secrets.token_bytes)
    harness = kind(app=app, clock=clock, storage=storage)
    try:
        yield harness
    finally:
        for client in harness.clients:
            await client.aclose()


def running(
    settings: Settings, storage: Storage | None = None, clock: FakeClock | None = None
) -> AbstractAsyncContextManager[Harness]:
    """A :class:`Harness` around a fresh app (memory storage unless given)."""
    return running_as(Harness, settings, storage, clock)
