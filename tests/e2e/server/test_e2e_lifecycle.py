"""End to end, with servers of their own: expiry, wrong-code lockout, restart mid-flow."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server.flows import enter_code, poll, poll_until_done, sign_in, start_flow
from tests.support.serverproc import PASSWORD, ServerProcess, e2e_server, serving

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-server-lifecycle")]


def _server(folder: Path, **config: int) -> Iterator[ServerProcess]:
    proc = e2e_server(folder, **config)
    proc.remember(PASSWORD)
    with serving(proc, clean=True):
        yield proc


@pytest.fixture
def short_lived(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from _server(tmp_path, device_code_lifetime=2)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from _server(tmp_path)


def test_expired_code_page_and_expired_token(short_lived: ServerProcess, page: Any) -> None:
    flow = start_flow(short_lived)
    time.sleep(flow["expires_in"] + 0.5)
    enter_code(page, short_lived, flow["user_code"])
    assert "Code expired" in page.inner_text("body")
    response = poll(short_lived, flow["device_code"])
    assert response.status_code == 400
    assert response.json()["error"] == "expired_token"


def test_sixth_code_attempt_is_refused_even_with_the_right_code(
    fresh: ServerProcess, page: Any
) -> None:
    flow = start_flow(fresh)
    for attempt in range(5):
        enter_code(page, fresh, "BCDF-GHJK" if attempt % 2 else "bcdf ghjk")
        assert "Code not recognised" in page.inner_text("body")
    enter_code(page, fresh, flow["user_code"])
    text = page.inner_text("body")
    assert "Too many attempts" in text and "try again after" in text
    assert page.get_by_label("Username").count() == 0


def test_restart_in_the_middle_of_a_flow(fresh: ServerProcess, page: Any) -> None:
    flow = start_flow(fresh)
    enter_code(page, fresh, flow["user_code"])
    sign_in(page)
    assert page.get_by_role("button", name="Approve").is_visible()
    assert fresh.stop() == 0
    fresh.start()
    page.get_by_role("button", name="Approve").click()
    assert "Device approved" in page.inner_text("body")
    response = poll_until_done(fresh, flow)
    assert response.status_code == 200, response.text
