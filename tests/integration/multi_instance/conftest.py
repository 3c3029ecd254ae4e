"""Two ``deviceflow serve`` processes (A and B) on different ports sharing one PostgreSQL DB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.config import write_config
from tests.support.fixtures import browser
from tests.support.postgres import fresh_database
from tests.support.serverproc import ServerProcess, e2e_config

__all__ = ["browser"]  # a shared fixture, used by the tests here

UNKNOWN_CODE_LIMIT = 4
USER_CODE_LIMIT = 3
PASSWORD_LIMIT = 3


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Servers A and B, started together (they migrate the fresh database once between them)."""
    folder = tmp_path_factory.mktemp("multi")
    limits = {
        "unknown_device_code_polls": UNKNOWN_CODE_LIMIT,
        "user_code_failures": USER_CODE_LIMIT,
        "sign_in_failures": PASSWORD_LIMIT,
    }
    config = write_config(folder, {**e2e_config(), "rate_limits": limits})
    with fresh_database() as url:
        a = ServerProcess(folder, config, db_url=url)
        b = ServerProcess(folder, config, db_url=url)
        try:
            a.start()
            b.start()
            yield a, b
        finally:
            a.stop()
            b.stop()
            leaked = a.leaked() + b.leaked()
            assert leaked == [], f"secrets in server output: {leaked}"
