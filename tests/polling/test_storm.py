"""Polling storms (RFC 8628 §3.5): early polls are answered ``slow_down`` from this instance's
table (grant._pacing) with no statement once the interval stops growing, the interval has a
ceiling, and an honest client's polls run exactly the statements they ran before.

Statements are counted on a real SQLite storage with SQLite's own trace callback.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from deviceflow.server.grant import (
    AUTHORIZATION_PENDING,
    MAX_POLL_INTERVAL,
    SLOW_DOWN_STEP,
    GrantEngine,
    SlowDown,
)
from deviceflow.server.settings import DEMO_CLIENT_ID, Settings
from deviceflow.server.storage.base import Storage
from deviceflow.server.storage.sqlite import SQLiteStorage
from tests.support.clock import FakeClock
from tests.support.grant import answer, approve, poll, start, tenant_of
from tests.support.grant_fixtures import EngineFactory

_WRITES = ("UPDATE", "INSERT", "DELETE", "REPLACE")


class Statements:
    """Every statement one SQLite storage runs on this thread (its trace callback)."""

    def __init__(self, storage: SQLiteStorage) -> None:
        self.seen: list[str] = []
        storage._conn().set_trace_callback(self.seen.append)

    def shapes(self) -> list[str]:
        """The statements with their numbers (times) left out."""
        return [re.sub(r"\d+(\.\d+)?", "N", s) for s in self.seen]

    def clear(self) -> None:
        self.seen.clear()

    def writes(self) -> list[str]:
        return [s for s in self.seen if s.lstrip().upper().startswith(_WRITES)]

    def queries(self) -> list[str]:
        """Statements other than transaction control."""
        skipped = ("BEGIN", "COMMIT", "ROLLBACK")
        return [s for s in self.seen if not s.lstrip().upper().startswith(skipped)]


@pytest.fixture
def sqlite_store(storage_factory: Callable[[str], Storage]) -> SQLiteStorage:
    store = storage_factory("sqlite")
    assert isinstance(store, SQLiteStorage)
    return store


def storm(engine: GrantEngine, code: str, clock: FakeClock, polls: int) -> list[object]:
    answers = []
    for _ in range(polls):
        clock.advance(0.01)
        answers.append(poll(engine, code))
    return answers


def test_storm_interval_stops_at_the_ceiling_and_writes_stop_with_it(
    engine_factory: EngineFactory,
    rfc_settings: Settings,
    clock: FakeClock,
    sqlite_store: SQLiteStorage,
    tmp_path: Path,
) -> None:
    engine = engine_factory(rfc_settings, storage=sqlite_store)
    code = start(engine).device_code
    assert poll(engine, code) is AUTHORIZATION_PENDING
    statements = Statements(sqlite_store)
    steps = (MAX_POLL_INTERVAL - rfc_settings.interval) // SLOW_DOWN_STEP  # 11 from 5 s
    answers = storm(engine, code, clock, steps + 500)
    expected = [SlowDown(rfc_settings.interval + SLOW_DOWN_STEP * (n + 1)) for n in range(steps)]
    assert answers[:steps] == expected
    assert set(answers[steps:]) == {SlowDown(MAX_POLL_INTERVAL)}
    # Writes: each increase of the interval, and the slow_down burst counter beside it; none
    # for the 500 polls at the ceiling, however early.
    interval_writes = [s for s in statements.writes() if "SET interval" in s]
    assert len(interval_writes) == steps
    assert len(statements.writes()) <= 2 * steps + 1
    statements.clear()
    storm(engine, code, clock, 200)
    assert statements.seen == []  # no statement at all: answered from the table
    with sqlite3.connect(tmp_path / "server.sqlite3") as reader:
        stored = reader.execute("SELECT interval FROM device_grants").fetchall()
    assert stored == [(MAX_POLL_INTERVAL,)]


def test_each_early_poll_below_the_ceiling_raises_the_interval_once(
    engine_factory: EngineFactory,
    rfc_settings: Settings,
    clock: FakeClock,
    sqlite_store: SQLiteStorage,
) -> None:
    engine = engine_factory(rfc_settings, storage=sqlite_store)
    code = start(engine).device_code
    poll(engine, code)
    clock.advance(1)
    assert poll(engine, code) == SlowDown(10)  # from storage: the table learns the flow
    statements = Statements(sqlite_store)
    clock.advance(1)
    assert poll(engine, code) == SlowDown(15)  # from the table: one compare-and-set
    assert statements.queries() == statements.writes()  # no read of the row
    assert len([s for s in statements.writes() if "SET interval" in s]) == 1


def test_client_that_honours_the_raised_interval_is_answered_by_storage(
    engine_factory: EngineFactory,
    rfc_settings: Settings,
    clock: FakeClock,
    sqlite_store: SQLiteStorage,
) -> None:
    engine = engine_factory(rfc_settings, storage=sqlite_store)
    code = start(engine).device_code
    poll(engine, code)
    storm(engine, code, clock, 100)  # up to the ceiling
    clock.advance(MAX_POLL_INTERVAL)
    assert poll(engine, code) is AUTHORIZATION_PENDING  # on time by the raised interval
    clock.advance(1)
    assert poll(engine, code) == SlowDown(MAX_POLL_INTERVAL)  # early again: judged from there
    clock.advance(MAX_POLL_INTERVAL)
    assert poll(engine, code) is AUTHORIZATION_PENDING


@pytest.mark.parametrize("decision", ["denied", "expired"])
def test_early_poll_hears_a_decision_made_on_this_instance_at_once(
    engine_factory: EngineFactory,
    rfc_settings: Settings,
    clock: FakeClock,
    sqlite_store: SQLiteStorage,
    decision: str,
) -> None:
    engine = engine_factory(rfc_settings, storage=sqlite_store)
    started = start(engine)
    poll(engine, started.device_code)
    storm(engine, started.device_code, clock, 3)  # the table now answers its early polls
    if decision == "expired":
        assert engine.expire_user_code(started.user_code)
    else:
        approve(engine, started.user_code, approve=False)
    clock.advance(0.01)  # still early by the raised interval
    # Terminal outcomes come before the on-time rule (an approved grant still waits for an
    # on-time poll, as storage's full path decides).
    expected = {"denied": "access_denied", "expired": "expired_token"}
    assert answer(engine, started.device_code) == expected[decision]


def test_honest_client_runs_the_same_statements_during_a_storm(
    engine_factory: EngineFactory,
    rfc_settings: Settings,
    clock: FakeClock,
    sqlite_store: SQLiteStorage,
) -> None:
    engine = engine_factory(rfc_settings, storage=sqlite_store)
    honest = start(engine).device_code
    assert poll(engine, honest) is AUTHORIZATION_PENDING
    statements = Statements(sqlite_store)
    clock.advance(rfc_settings.interval)
    assert poll(engine, honest) is AUTHORIZATION_PENDING
    alone = statements.shapes()
    # Answered from memory (grant._pacing): the one statement reads the grant change log.
    assert len(alone) == 1 and "FROM grant_changes" in alone[0]
    rogue = start(engine).device_code
    poll(engine, rogue)
    for _ in range(5):
        storm(engine, rogue, clock, 50)
        clock.advance(rfc_settings.interval)
        statements.clear()
        assert poll(engine, honest) is AUTHORIZATION_PENDING
        assert statements.shapes() == alone


def test_table_never_calls_early_a_poll_another_instance_accepted(
    engine_factory: EngineFactory, rfc_settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    one, two = (
        SQLiteStorage(tmp_path / "shared.sqlite3"),
        SQLiteStorage(tmp_path / "shared.sqlite3"),
    )
    try:
        a = engine_factory(rfc_settings, storage=one)
        b = engine_factory(rfc_settings, storage=two)
        code = start(a).device_code
        poll(a, code)
        storm(a, code, clock, 100)  # instance a: the flow is in its table, at the ceiling
        clock.advance(MAX_POLL_INTERVAL)
        assert poll(b, code) is AUTHORIZATION_PENDING  # instance b accepts an on-time poll
        clock.advance(MAX_POLL_INTERVAL - 5)
        # a's table knows an older accepted poll: on time by it, so storage decides (early).
        assert poll(a, code) == SlowDown(MAX_POLL_INTERVAL)
        clock.advance(10)
        assert poll(a, code) is AUTHORIZATION_PENDING  # 65 s after b's accepted poll
    finally:
        one.close()
        two.close()


def test_storm_on_the_awaited_batched_poll_writes_nothing_at_the_ceiling(
    engine_factory: EngineFactory,
    rfc_settings: Settings,
    clock: FakeClock,
    sqlite_store: SQLiteStorage,
) -> None:
    engine = engine_factory(rfc_settings, storage=sqlite_store)
    code = start(engine).device_code
    tenant = tenant_of(engine)

    async def apoll() -> object:
        return await engine.device.apoll(
            tenant=tenant, client_id=DEMO_CLIENT_ID, device_code=code, ip="192.0.2.10"
        )

    async def main() -> list[object]:
        answers = [await apoll()]
        for _ in range(100):
            clock.advance(0.01)
            answers.append(await apoll())
        return answers

    answers = asyncio.run(main())
    assert answers[0] is AUTHORIZATION_PENDING
    assert answers[-1] == SlowDown(MAX_POLL_INTERVAL)
    statements = Statements(sqlite_store)

    async def more() -> None:
        for _ in range(100):
            clock.advance(0.01)
            assert await apoll() == SlowDown(MAX_POLL_INTERVAL)

    asyncio.run(more())
    assert statements.seen == []
