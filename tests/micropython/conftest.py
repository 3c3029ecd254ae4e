"""Fixtures for the MicroPython tests: the .mpy build, real servers, Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.micropython.device import build, write_board_config
from tests.support.serverproc import PASSWORD, USERNAME, ServerProcess
from tests.support.tools import chromium_browser


@pytest.fixture(scope="session")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scripts/build-micro``'s output plus the compiled device programs."""
    return build(tmp_path_factory.mktemp("mpy"))


def _server(folder: Path, *, tls: bool) -> Iterator[ServerProcess]:
    server = ServerProcess(folder=folder, config=write_board_config(folder), tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.leaked()


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _server(tmp_path_factory.mktemp("serve-http"), tls=False)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _server(tmp_path_factory.mktemp("serve-tls"), tls=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as chromium:
        yield chromium


def approve_in(browser: Any, code: dict[str, Any]) -> None:
    """The person: open the QR code's URL in Chromium, type the code if asked, sign in, approve.

    The QR code holds ``verification_uri_complete`` when the server sends one, else
    ``verification_uri`` (Microsoft's dialect sends no complete URI, as Entra does).
    """
    context = browser.new_context(ignore_https_errors=True)  # the server's local CA
    try:
        page = context.new_page()
        page.goto(code["verification_uri_complete"] or code["verification_uri"])
        if not page.get_by_label("Username").count():
            field = page.get_by_label("Code")
            if not field.input_value():
                field.fill(code["user_code"])
            page.get_by_role("button", name="Next").click()
        page.get_by_label("Username").fill(USERNAME)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Approve").click()
        assert "approved" in page.inner_text("body").lower()
    finally:
        context.close()
