"""Several instances act as one: flows, rate limits and one-time redemption across A and B.

The tests run in this order on one worker (the per-IP limits they exhaust are shared).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.e2e.server.flows import enter_code, poll, poll_until_done, sign_in, start_flow
from tests.integration.multi_instance.conftest import UNKNOWN_CODE_LIMIT, USER_CODE_LIMIT
from tests.support.serverproc import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("multi-instance")]

Pair = tuple[ServerProcess, ServerProcess]


def approve(browser: Any, server: ServerProcess, user_code: str) -> None:
    """The person approves ``user_code`` on ``server``'s verification page."""
    context = browser.new_context()
    try:
        page = context.new_page()
        enter_code(page, server, user_code)
        sign_in(page)
        page.get_by_role("button", name="Approve").click()
        assert "Device approved" in page.inner_text("body")
    finally:
        context.close()


def test_device_on_a_user_on_b_device_gets_tokens_from_a(pair: Pair, browser: Any) -> None:
    a, b = pair
    flow = start_flow(a)
    assert poll(a, flow["device_code"]).json()["error"] == "authorization_pending"
    approve(browser, b, flow["user_code"])
    response = poll_until_done(a, flow)
    assert response.status_code == 200, response.text
    b.remember(response.json()["access_token"])
    me = httpx.get(
        f"{b.base_url}/v1.0/me",
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
    )
    assert me.status_code == 200  # B verifies A's token: the signing key is shared too


def test_fifty_concurrent_polls_over_both_yield_one_token(pair: Pair, browser: Any) -> None:
    a, b = pair
    flow = start_flow(b)
    approve(browser, a, flow["user_code"])
    barrier = threading.Barrier(50)
    statuses: list[int] = []
    errors: list[str] = []

    def redeem(server: ServerProcess) -> None:
        barrier.wait()
        response = poll(server, flow["device_code"])
        statuses.append(response.status_code)
        if response.status_code != 200:
            errors.append(response.json()["error"])

    threads = [threading.Thread(target=redeem, args=(pair[i % 2],)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) == 1
    assert set(errors) == {"invalid_grant"}


def test_unknown_device_code_limit_counts_across_instances(pair: Pair) -> None:
    a, b = pair
    for i in range(UNKNOWN_CODE_LIMIT):
        server = pair[i % 2]
        assert poll(server, f"not-a-code-{i}").json()["error"] == "invalid_grant"
    for server in (a, b):
        response = poll(server, "not-a-code-either")
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) > 0


def test_wrong_user_codes_count_across_instances(pair: Pair, browser: Any) -> None:
    a, b = pair
    flow = start_flow(a)
    for i in range(USER_CODE_LIMIT):
        context = browser.new_context()  # a new browser session each time: only the IP counts
        try:
            page = context.new_page()
            enter_code(page, pair[i % 2], "BBBB-BBBB")
            assert "Too many attempts" not in page.inner_text("body")
        finally:
            context.close()
    context = browser.new_context()
    try:
        page = context.new_page()
        enter_code(page, b if USER_CODE_LIMIT % 2 == 0 else a, flow["user_code"])
        assert "Too many attempts" in page.inner_text("body")  # even the right code, now
    finally:
        context.close()
