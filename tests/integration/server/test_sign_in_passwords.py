"""Password forms in process: one authentication for all of them, the same cost for every name.

Both forms that take a password (``/devicelogin``'s sign-in and the presence page's) go through
one authentication function, so what one protection proves for one form holds for the other.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import argon2
import httpx
import pytest

from deviceflow.server.endpoints.context import format_time
from deviceflow.server.settings import Settings
from tests.support.app_harness import ALICE, BOB, CONFIG, Harness, running
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio

SignIn = Callable[[str, str], Awaitable[httpx.Response]]


def form_poster(
    browser: httpx.AsyncClient, page: httpx.Response, path: str, **fields: str
) -> SignIn:
    """Sign-ins posted to ``path`` with the CSRF token of the latest page that had a form (a
    sign-in changes the token)."""
    token = [csrf_of(page.text)]

    async def sign_in(username: str, password: str) -> httpx.Response:
        form = {"csrf_token": token[0], **fields, "username": username, "password": password}
        response = await browser.post(path, data=form)
        if 'name="csrf_token"' in response.text:
            token[0] = csrf_of(response.text)
        return response

    return sign_in


async def devicelogin_form(server: Harness, ip: str = "127.0.0.1") -> SignIn:
    """A sign-in on ``/devicelogin`` (after entering a live code) from ``ip``."""
    started = await server.authorize()
    browser = server.client(ip)
    page = await server.enter_code(browser, started["user_code"])
    assert page.status_code == 200, page.text
    return form_poster(browser, page, "/devicelogin/signin", code=started["user_code"])


async def presence_form(server: Harness, ip: str = "127.0.0.1") -> SignIn:
    """A sign-in on the presence page from ``ip``."""
    browser = server.client(ip)
    return form_poster(browser, await browser.get("/presence"), "/presence/signin")


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


@pytest.fixture
async def strict(anyio_backend: str) -> AsyncIterator[Harness]:
    """The harness app with small password limits: 3 per account, 6 per address."""
    limits = {"sign_in_failures": 3, "sign_in_address_failures": 6, "sign_in_window": 600}
    async with running(Settings.from_mapping({**CONFIG, "rate_limits": limits})) as harness:
        yield harness


def text_of(response: httpx.Response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


@pytest.mark.parametrize("form", FORMS)
async def test_thirty_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused(
    server: Harness, form: Callable[[Harness], Awaitable[SignIn]]
) -> None:
    sign_in = await form(server)
    statuses = [(await sign_in(ALICE[0], f"guess-{n}")).status_code for n in range(30)]
    assert statuses == [200] * 5 + [429] * 25  # [rate_limits] sign_in_failures = 5
    locked = await sign_in(*ALICE)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) == 900
    until = format_time(server.clock() + 900)
    assert "Too many wrong passwords for this account" in text_of(locked)
    assert f"try again after {until}" in text_of(locked)
    assert ">Sign in</button>" not in locked.text
    # The account is locked from every address and on every form, the other user is not.
    elsewhere = await (await presence_form(server, "198.51.100.9"))(*ALICE)
    assert elsewhere.status_code == 429
    assert "Your presence" in (await (await presence_form(server, "198.51.100.9"))(*BOB)).text
    server.clock.advance(900)
    assert "Your presence" in (await (await presence_form(server))(*ALICE)).text


async def test_wrong_passwords_from_one_address_pause_every_account_there(
    strict: Harness,
) -> None:
    sign_in = await presence_form(strict, "2001:db8:5:6::1")
    for n in range(6):  # three names, two each: no account reaches its own limit of 3
        response = await sign_in(f"name-{n % 3}", "wrong")
        assert "username or password is not right" in response.text
    other_address_in_the_64 = await presence_form(strict, "2001:db8:5:6::2")
    locked = await other_address_in_the_64(*ALICE)
    assert locked.status_code == 429
    assert "Too many wrong passwords were entered from your network" in text_of(locked)
    assert "Your presence" in (await (await presence_form(strict, "2001:db8:5:7::1"))(*ALICE)).text


async def test_a_right_password_does_not_use_up_the_account_limit(strict: Harness) -> None:
    sign_in = await presence_form(strict)
    for _ in range(5):
        assert "Your presence" in (await sign_in(*ALICE)).text
    for _ in range(3):
        assert (await sign_in(ALICE[0], "wrong")).status_code == 200
    assert (await sign_in(*ALICE)).status_code == 429


async def test_sign_ins_past_the_waiting_room_get_try_again_shortly(anyio_backend: str) -> None:
    limits = {"sign_in_checks": 1, "sign_in_queue": 1}
    async with running(Settings.from_mapping({**CONFIG, "rate_limits": limits})) as server:
        forms = [await presence_form(server, f"198.51.100.{n}") for n in range(5)]
        answers: list[httpx.Response] = []

        async def sign_in(form: SignIn) -> None:
            answers.append(await form(ALICE[0], "wrong"))

        async with anyio.create_task_group() as tasks:
            for form in forms:  # each waits for its check in a thread: they overlap
                tasks.start_soon(sign_in, form)
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200, 200, 503, 503, 503]  # one checked, one waiting, three sent away
        busy = next(answer for answer in answers if answer.status_code == 503)
        assert "try again" in text_of(busy) and busy.headers["retry-after"] == "5"
        # Sent away uncounted: the account limit (5) still has three wrong passwords left.
        for _ in range(3):
            assert (await forms[0](ALICE[0], "wrong")).status_code == 200
        assert (await forms[0](*ALICE)).status_code == 429


async def test_many_right_sign_ins_of_one_account_at_once_are_not_taken_for_guessing(
    server: Harness,
) -> None:
    # Counted when its check may run, not while waiting its turn: ten sign-ins of one account
    # at once (one office, one shared test account) stay under its limit of five.
    forms = [await presence_form(server) for _ in range(10)]
    answers: list[httpx.Response] = []

    async def sign_in(form: SignIn) -> None:
        answers.append(await form(*ALICE))

    async with anyio.create_task_group() as tasks:
        for form in forms:
            tasks.start_soon(sign_in, form)
    assert [answer.status_code for answer in answers] == [200] * 10
    assert all("Your presence" in answer.text for answer in answers)
