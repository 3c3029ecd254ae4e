"""End to end: a real ``deviceflow serve`` on loopback, real HTTP, real Chromium (one server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.server.flows import enter_code, poll, poll_until_done, sign_in, start_flow
from tests.support.serverproc import PASSWORD, ServerProcess, e2e_server, serving

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-server-flows")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = e2e_server(tmp_path_factory.mktemp("e2e-flows"))
    proc.remember(PASSWORD)
    with serving(proc, clean=True):
        yield proc


@pytest.fixture
def browser_context_options() -> dict[str, Any]:
    return {"viewport": {"width": 390, "height": 844}}  # a phone


def test_approve_path_device_gets_tokens_and_me_answers(server: ServerProcess, page: Any) -> None:
    flow = start_flow(server)
    enter_code(page, server, flow["user_code"])
    sign_in(page)
    page.get_by_role("button", name="Approve").click()
    assert "Device approved" in page.inner_text("body")
    response = poll_until_done(server, flow)
    assert response.status_code == 200, response.text
    tokens = response.json()
    me = httpx.get(
        f"{server.base_url}/v1.0/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["displayName"] == "Erin Example"


def test_deny_path_device_gets_access_denied(server: ServerProcess, page: Any) -> None:
    flow = start_flow(server)
    enter_code(page, server, flow["user_code"])
    sign_in(page)
    page.get_by_role("button", name="Deny").click()
    assert "Access denied" in page.inner_text("body")
    response = poll_until_done(server, flow)
    assert response.status_code == 400
    assert response.json()["error"] == "access_denied"


def test_complete_uri_path_still_shows_the_code(server: ServerProcess, page: Any) -> None:
    flow = start_flow(server)
    page.goto(flow["verification_uri_complete"])
    assert page.get_by_label("Code").input_value() == flow["user_code"]  # pre-filled
    page.get_by_role("button", name="Next").click()
    sign_in(page)
    assert flow["user_code"] in page.inner_text("body")
    page.get_by_role("button", name="Approve").click()
    assert poll_until_done(server, flow).status_code == 200


def test_second_redemption_is_refused(server: ServerProcess, page: Any) -> None:
    flow = start_flow(server)
    enter_code(page, server, flow["user_code"])
    sign_in(page)
    page.get_by_role("button", name="Approve").click()
    assert poll_until_done(server, flow).status_code == 200
    again = poll(server, flow["device_code"])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    page.goto(flow["verification_uri_complete"])
    page.get_by_role("button", name="Next").click()
    assert "already been used" in page.inner_text("body")


def test_fifty_concurrent_polls_after_approval_yield_one_token(
    server: ServerProcess, page: Any
) -> None:
    flow = start_flow(server)
    enter_code(page, server, flow["user_code"])
    sign_in(page)
    page.get_by_role("button", name="Approve").click()
    assert "Device approved" in page.inner_text("body")

    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": flow["device_code"],
        "client_id": "e2e-lamp",
    }
    url = f"{server.base_url}/contoso/oauth2/v2.0/token"
    barrier = threading.Barrier(50)

    def one_poll(_: int) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            return client.post(url, data=form)

    # Playwright's sync API owns this thread's event loop, so the storm runs on 50 threads.
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(one_poll, range(50)))
    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) == 1
    for response in ok:
        server.remember(response.json()["access_token"], response.json().get("refresh_token"))
    errors = {r.json()["error"] for r in responses if r.status_code != 200}
    assert errors <= {"invalid_grant", "slow_down"}, errors
