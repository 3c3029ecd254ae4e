"""Acceptance: ``/readyz`` says 503 while the database is down and 200 once it is back.

The database is a PostgreSQL server this test starts and stops itself
(:func:`tests.support.postgres.private_server`); the shared one is never touched.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import private_server
from tests.support.serverproc import e2e_server, serving

pytestmark = pytest.mark.e2e


def wait_for_status(url: str, status: int, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, timeout=10)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_readyz_is_503_while_postgresql_is_down_and_200_after(tmp_path: Path) -> None:
    with private_server() as database:
        server = e2e_server(tmp_path, db_url=database.url)
        with serving(server, clean=True):
            ready = httpx.get(f"{server.base_url}/readyz")
            assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

            database.stop()
            down = httpx.get(f"{server.base_url}/readyz", timeout=10)
            assert down.status_code == 503
            assert down.json()["status"] == "unavailable"
            assert down.json()["reason"].startswith("database unreachable")
            assert down.headers["cache-control"] == "no-store"
            assert httpx.get(f"{server.base_url}/healthz").status_code == 200  # still alive

            database.start()
            back = wait_for_status(f"{server.base_url}/readyz", 200)
            assert (back.status_code, back.json()) == (200, {"status": "ready"})


def test_readyz_and_healthz_on_sqlite(tmp_path: Path) -> None:
    server = e2e_server(tmp_path)
    with serving(server, clean=True):
        assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{server.base_url}/readyz").json() == {"status": "ready"}
        assert httpx.head(f"{server.base_url}/readyz").status_code == 200
