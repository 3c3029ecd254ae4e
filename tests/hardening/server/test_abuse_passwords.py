"""Server under abuse: password guessing, per account and per address (issue 12), on SQLite and
PostgreSQL.

Every sign-in form limits wrong passwords per account (5 per 15 minutes, from any address) and
per client address (20, whatever names they try); past a limit even the right password is
refused until the window ends. The counters live in storage, so the figures are measured on
both databases the server runs on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import nullcontext
from pathlib import Path

import httpx
import pytest

from deviceflow.server.storage import open_storage
from tests.hardening import figures
from tests.hardening.server.harness import ALICE, GuardedHarness, guarded, hardening_settings
from tests.support.pages import csrf_of
from tests.support.postgres import fresh_database

pytestmark = pytest.mark.anyio

ACCOUNT_LIMIT, ADDRESS_LIMIT = 5, 20  # the defaults of [rate_limits]


@pytest.fixture(params=["SQLite", "PostgreSQL"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'passwords.sqlite3'}"
    with fresh_database() if request.param == "PostgreSQL" else nullcontext(url) as chosen:
        yield chosen


@pytest.fixture
async def server(database: str, anyio_backend: str) -> AsyncIterator[GuardedHarness]:
    storage = open_storage(database)
    try:
        async with guarded(hardening_settings(), storage) as harness:
            yield harness
    finally:
        storage.close()


def backend(server: GuardedHarness) -> str:
    return "PostgreSQL" if "Postgres" in type(server.storage).__name__ else "SQLite"


async def sign_in(server: GuardedHarness, ip: str, username: str, password: str) -> httpx.Response:
    """One sign-in on the presence page, in a fresh browser at ``ip``."""
    browser = server.client(ip)
    page = await browser.get("/presence")
    form = {"csrf_token": csrf_of(page.text), "username": username, "password": password}
    return await browser.post("/presence/signin", data=form)


async def test_guessing_one_password_from_many_addresses_is_limited_per_account(
    server: GuardedHarness,
) -> None:
    statuses = [
        (await sign_in(server, f"203.0.113.{n % 10 + 1}", ALICE[0], f"guess-{n}")).status_code
        for n in range(30)
    ]
    assert statuses == [200] * ACCOUNT_LIMIT + [429] * (30 - ACCOUNT_LIMIT)
    right = await sign_in(server, "198.51.100.77", *ALICE)
    assert right.status_code == 429 and "Your presence" not in right.text
    figures.record(
        "Password guessing",
        f"one account from 10 addresses, {backend(server)}",
        guesses=len(statuses),
        checked=statuses.count(200),
        refused=statuses.count(429),
        right_password_after_lockout="refused",
    )


async def test_guessing_many_accounts_from_one_address_is_limited_per_address(
    server: GuardedHarness,
) -> None:
    names = [f"user-{n}" for n in range(10)]
    statuses = [
        (await sign_in(server, "2001:db8:77::1", names[n % 10], "guess")).status_code
        for n in range(30)  # three per name: no account reaches its own limit
    ]
    assert statuses == [200] * ADDRESS_LIMIT + [429] * (30 - ADDRESS_LIMIT)
    same_64 = await sign_in(server, "2001:db8:77::2", *ALICE)
    assert same_64.status_code == 429
    elsewhere = await sign_in(server, "198.51.100.78", *ALICE)
    assert "Your presence" in elsewhere.text
    figures.record(
        "Password guessing",
        f"10 accounts from one address (an IPv6 /64), {backend(server)}",
        guesses=len(statuses),
        checked=statuses.count(200),
        refused=statuses.count(429),
        right_password_after_lockout="refused",
        right_password_elsewhere="accepted",
    )
