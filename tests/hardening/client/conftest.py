"""One real ``deviceflow serve`` and one self-signed certificate for the client hardening tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening.client.scenarios import CODE_LIFETIME
from tests.hardening.client.serverkit import ServerProcess, start_server
from tests.hardening.faultproxy import self_signed_cert


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The server (RFC tenant ``contoso``, 1 s interval, short code lifetime), on loopback."""
    proc = start_server(tmp_path_factory.mktemp("fault-server"), device_code_lifetime=CODE_LIFETIME)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="package")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (the proxy's TLS identity)."""
    return self_signed_cert(tmp_path_factory.mktemp("fault-tls"))
