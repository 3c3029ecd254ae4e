"""Fixtures of the Microsoft interop tests: one TLS server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.microsoft.emulator import tls_server
from tests.support.serverproc import ServerProcess, serving


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with serving(tls_server(tmp_path_factory.mktemp("ms-emulator")), clean=True) as server:
        yield server
