"""The fixtures several test folders share; a folder's ``conftest.py`` imports the ones it uses.

- ``server_settings``, ``anyio_backend``, ``server``: the in-process app
  (:mod:`tests.support.app_harness`) of the integration and conformance tests;
- ``postgres_url``, ``backend``, ``storage``: the storage contract's backends (memory, SQLite,
  PostgreSQL). PostgreSQL gets one fresh database per test session (per xdist worker), emptied
  before each test and dropped at the end (:mod:`tests.support.postgres`);
- ``browser``: one headless Debian Chromium per module; ``page``: a page in a browser context of
  its own for each test (``browser_context_options`` sets the context up, e.g. its viewport).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from deviceflow.server.settings import Settings
from deviceflow.server.storage import open_storage
from deviceflow.server.storage.base import Storage
from tests.support.app_harness import Harness, harness_settings, running
from tests.support.postgres import fresh_database
from tests.support.tools import chromium_browser

_TABLES = "device_grants, refresh_tokens, counters, kv, users, clients"


@pytest.fixture(scope="session")
def server_settings() -> Settings:
    return harness_settings()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def server(server_settings: Settings, anyio_backend: str) -> AsyncIterator[Harness]:
    async with running(server_settings) as harness:
        yield harness


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module (each test opens its own context)."""
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def browser_context_options() -> dict[str, Any]:
    """Keywords for the ``page`` fixture's ``browser.new_context`` (override to change)."""
    return {}


@pytest.fixture
def page(browser: Any, browser_context_options: dict[str, Any]) -> Iterator[Any]:
    """A page in a fresh browser context (its own cookies), closed after the test."""
    context = browser.new_context(**browser_context_options)
    try:
        yield context.new_page()
    finally:
        context.close()
