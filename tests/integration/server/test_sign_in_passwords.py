"""Password forms in process: one authentication for all of them, the same cost for every name.

Both forms that take a password (``/devicelogin``'s sign-in and the presence page's) go through
one authentication function, so what one protection proves for one form holds for the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import argon2
import httpx
import pytest

from tests.support.app_harness import Harness
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio

SignIn = Callable[[str, str], Awaitable[httpx.Response]]


async def devicelogin_form(server: Harness, ip: str = "127.0.0.1") -> SignIn:
    """A sign-in on ``/devicelogin`` (after entering a live code) from ``ip``."""
    started = await server.authorize()
    browser = server.client(ip)
    page = await server.enter_code(browser, started["user_code"])
    assert page.status_code == 200, page.text

    async def sign_in(username: str, password: str) -> httpx.Response:
        form = {"csrf_token": csrf_of(page.text), "code": started["user_code"]}
        return await browser.post(
            "/devicelogin/signin", data={**form, "username": username, "password": password}
        )

    return sign_in


async def presence_form(server: Harness, ip: str = "127.0.0.1") -> SignIn:
    """A sign-in on the presence page from ``ip``."""
    browser = server.client(ip)
    page = await browser.get("/presence")

    async def sign_in(username: str, password: str) -> httpx.Response:
        form = {"csrf_token": csrf_of(page.text), "username": username, "password": password}
        return await browser.post("/presence/signin", data=form)

    return sign_in


FORMS = [
    pytest.param(devicelogin_form, id="devicelogin"),
    pytest.param(presence_form, id="presence"),
]


@pytest.fixture
def argon2_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2 verified passwords against, in order (a spy on the library)."""
    checked: list[str] = []
    verify = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, hash: str, password: Any) -> bool:
        checked.append(hash)
        return verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    return checked


@pytest.mark.parametrize("form", FORMS)
async def test_unknown_username_costs_one_argon2_check_like_a_known_one(
    server: Harness, argon2_checks: list[str], form: Callable[[Harness], Awaitable[SignIn]]
) -> None:
    # The presence page answered an unknown name in under 1 ms and a real one in ~99 ms.
    sign_in = await form(server)
    for username in ("alice", "nobody-by-this-name"):
        before = len(argon2_checks)
        response = await sign_in(username, "not-the-password")
        assert "username or password is not right" in response.text
        assert len(argon2_checks) - before == 1, username
