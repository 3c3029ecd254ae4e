"""Fixtures of the Microsoft interop tests: one TLS server and one Chromium per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.interop.microsoft.emulator import TlsServer
from tests.tools import chromium_browser


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    server = TlsServer(folder=tmp_path_factory.mktemp("ms-emulator"))
    server.start()
    try:
        yield server
    finally:
        assert server.stop() == 0, "the server did not stop cleanly"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as chromium:
        yield chromium
