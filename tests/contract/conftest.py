"""The storage contract: every backend is one parameter of the ``storage`` fixture.

PostgreSQL gets one fresh database per test session (per xdist worker), emptied before each test
and dropped at the end; see :mod:`tests.contract.pg`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deviceflow.server.storage import open_storage
from deviceflow.server.storage.base import Storage
from tests.contract.pg import fresh_database

_TABLES = "device_grants, refresh_tokens, counters, kv"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated, session-wide PostgreSQL test database."""
    with fresh_database() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a fresh, empty database of each backend."""
    if request.param == "memory":
        return "memory:"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'contract.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    import psycopg

    open_storage(url).close()  # migrate (a no-op after the first time)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {_TABLES}".encode())
    return url


@pytest.fixture
def storage(backend: str) -> Iterator[Storage]:
    store = open_storage(backend)
    yield store
    store.close()
