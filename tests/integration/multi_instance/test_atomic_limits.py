"""Rate limits are exact across instances: check-and-count is one atomic statement.

Concurrent guesses (wrong user codes, wrong passwords) are split over servers A and B (one
PostgreSQL database, their own pair: this module's limits are not worn down by the other
modules' tests). Each guess is counted first (``storage.hit`` returns the new count) and then
decided, so exactly the limit gets through, however the requests interleave; a read-then-count
check let a sixth of five through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest

from tests.integration.multi_instance.conftest import PASSWORD_LIMIT, USER_CODE_LIMIT
from tests.support.pages import csrf_of
from tests.support.serverproc import USERNAME, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("multi-instance")]

Pair = tuple[ServerProcess, ServerProcess]
GUESSES = 16
ADDRESSES = [f"127.0.0.{n}" for n in range(11, 23)]
"""Loopback addresses the guesses come from, one round each (a fresh per-address counter)."""


def at_once(calls: list[Callable[[], int]]) -> list[int]:
    """Run ``calls`` in threads released together; their results (HTTP statuses)."""
    barrier = threading.Barrier(len(calls))
    results: list[int] = []
    lock = threading.Lock()

    def run(call: Callable[[], int]) -> None:
        barrier.wait()
        status = call()
        with lock:
            results.append(status)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def guess_round(pair: Pair, address: str, path: str = "/devicelogin", **wrong: str) -> list[int]:
    """``GUESSES`` posts of the form at ``path`` (``wrong``, with a CSRF token) at once from
    ``address``, alternating A and B; the statuses."""
    browsers: list[tuple[httpx.Client, str]] = []
    page = path.removesuffix("/signin")
    try:
        for i in range(GUESSES):  # a browser session each: only the address is shared
            transport = httpx.HTTPTransport(local_address=address)
            browser = httpx.Client(base_url=pair[i % 2].base_url, transport=transport, timeout=30)
            browsers.append((browser, csrf_of(browser.get(page).text)))

        def guess(browser: httpx.Client, token: str) -> Callable[[], int]:
            form = {"csrf_token": token, **(wrong or {"code": "BBBB-BBBB"})}
            return lambda: browser.post(path, data=form).status_code

        return at_once([guess(browser, token) for browser, token in browsers])
    finally:
        for browser, _ in browsers:
            browser.close()


def test_concurrent_wrong_user_codes_over_two_instances_let_exactly_the_limit_through(
    pair: Pair,
) -> None:
    expected = [404] * USER_CODE_LIMIT + [429] * (GUESSES - USER_CODE_LIMIT)
    through = {address: sorted(guess_round(pair, address)) for address in ADDRESSES}
    assert through == {address: expected for address in ADDRESSES}


def test_concurrent_wrong_passwords_over_two_instances_lock_the_account_at_exactly_the_limit(
    pair: Pair,
) -> None:
    statuses = guess_round(
        pair, "127.0.0.30", "/presence/signin", username=USERNAME, password="not-it"
    )
    assert sorted(statuses) == [200] * PASSWORD_LIMIT + [429] * (GUESSES - PASSWORD_LIMIT)
