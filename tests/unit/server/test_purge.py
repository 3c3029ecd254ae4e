"""The purger's schedule and its place in the app's lifespan (issue 12); storage's part, the
``purge_expired`` method, is in tests/contract/test_purge.py. No test sleeps: the schedule runs
with a zero interval and stops on an event; time is a fake clock."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
from pathlib import Path

import pytest

from deviceflow.server.app import create_app
from deviceflow.server.purge import Purger
from deviceflow.server.settings import Settings
from deviceflow.server.storage.memory import MemoryStorage
from deviceflow.server.storage.sqlite import SQLiteStorage, migrations
from tests.contract.test_storage_contract import grant
from tests.support.clock import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recording(MemoryStorage):
    """A memory store that records each purge's ``before`` and can fail or stop the schedule."""

    def __init__(self, *, stop_after: int = 0, failures: int = 0) -> None:
        super().__init__()
        self.purges: list[float] = []
        self.stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._stop_after = stop_after
        self._failures = failures

    def purge_expired(self, before: float) -> int:
        self.purges.append(before)
        if len(self.purges) == self._stop_after:  # in the purge's worker thread
            self._loop.call_soon_threadsafe(self.stop.set)
        if len(self.purges) <= self._failures:
            raise OSError("database is unreachable")
        return super().purge_expired(before)


async def test_purger_purges_at_start_then_every_interval_until_stopped() -> None:
    clock = FakeClock(10_000.0)
    store = Recording(stop_after=3)
    await Purger(store, clock=clock, interval=0, retention=900).run(store.stop)
    assert store.purges == [10_000.0 - 900] * 3


async def test_purger_keeps_its_schedule_after_a_failed_purge(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Recording(stop_after=2, failures=1)
    with caplog.at_level(logging.WARNING, logger="deviceflow.server.purge"):
        await Purger(store, clock=FakeClock(), interval=0, retention=900).run(store.stop)
    assert len(store.purges) == 2
    (failure,) = caplog.records
    assert failure.getMessage().startswith("purge of expired rows failed (database is unreachable)")
    assert failure.exc_info is None  # one line, no traceback


async def test_purger_logs_what_it_purged(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(5_000.0)
    store = MemoryStorage()
    store.insert_grant(grant(1, created=100.0))
    with caplog.at_level(logging.INFO, logger="deviceflow.server.purge"):
        assert Purger(store, clock=clock, interval=300, retention=900).purge() == 1
    assert [r.getMessage() for r in caplog.records] == [
        "purged 1 expired rows (grants, refresh tokens, counters)"
    ]


async def test_app_lifespan_purges_expired_rows(dev_settings: Settings) -> None:
    clock = FakeClock(100.0 + 900 + dev_settings.lifetimes.expired_retention + 1)
    store = MemoryStorage()
    store.insert_grant(grant(1, created=100.0))  # expired, and kept long enough
    store.insert_grant(grant(2, created=clock.now - 900))  # expired, kept a while yet
    app = create_app(dev_settings, storage=store, clock=clock, rng=secrets.token_bytes)
    async with app.router.lifespan_context(app):
        pass  # the purge at startup runs before the lifespan can end
    assert store.find_grant(device_hash="d1") is None
    assert store.find_grant(device_hash="d2") is not None


def test_purge_settings_have_documented_defaults() -> None:
    from tests.support.app_harness import CONFIG

    default = Settings.from_mapping({**CONFIG, "users": []})
    assert (default.purge_interval, default.lifetimes.expired_retention) == (300, 900)
    configured = Settings.from_mapping(
        {**CONFIG, "users": [], "purge_interval": 60, "lifetimes": {"expired_retention": 120}}
    )
    assert (configured.purge_interval, configured.lifetimes.expired_retention) == (60, 120)


def test_sqlite_database_of_schema_1_gets_the_purge_indexes(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    version, first = migrations()[0]
    with sqlite3.connect(path) as conn:
        conn.executescript(first)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(
            "INSERT INTO counters (key, count, reset_at) VALUES ('devicecode_ip:192.0.2.1', 1, 5)"
        )
    conn.close()
    store = SQLiteStorage(path)
    try:
        assert store.purge_expired(10.0) == 1
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations()[-1][0]
    conn.close()
    assert {"refresh_tokens_expires_at", "counters_reset_at"} <= indexes
