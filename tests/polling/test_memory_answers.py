"""Pending flows answered from memory (grant._pacing): a flow storage confirmed pending has its
on-time polls answered with no statement on its row, and every way a flow stops being pending
(a decision here, a decision on another instance or process, its expiry, a lost change log)
reaches its next poll.

Two instances are two engines, each with its own storage object on one SQLite file (or one
PostgreSQL database); statements are counted with SQLite's trace callback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deviceflow.server.grant import (
    AUTHORIZATION_PENDING,
    DeviceAuthorization,
    GrantEngine,
    SlowDown,
)
from deviceflow.server.grant._pacing import FOLLOW_EVERY, FOLLOW_RETRY, TRUST_FOR, Pacer
from deviceflow.server.settings import Settings
from deviceflow.server.storage import _sql
from deviceflow.server.storage.base import PendingPoll, PollTerms, Storage
from deviceflow.server.storage.memory import MemoryStorage
from deviceflow.server.storage.sqlite import SQLiteStorage
from tests.contract.test_storage_contract import grant
from tests.polling.test_storm import Statements
from tests.support.clock import FakeClock
from tests.support.grant import answer, approve, poll, start
from tests.support.grant_fixtures import EngineFactory


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, Storage]]:
    """Two storage objects on one database: what two instances (or processes) hold."""
    if request.param == "postgresql":
        from deviceflow.server.storage.postgres import PostgresStorage

        url = request.getfixturevalue("postgres_url")
        pair: tuple[Storage, Storage] = (PostgresStorage(url), PostgresStorage(url))
    else:
        path = tmp_path / "shared.sqlite3"
        pair = (SQLiteStorage(path), SQLiteStorage(path))
    yield pair
    for store in pair:
        store.close()


def instances(
    engine_factory: EngineFactory, settings: Settings, shared: tuple[Storage, Storage]
) -> tuple[GrantEngine, GrantEngine]:
    """Two instances: an engine on each storage object of ``shared``."""
    return engine_factory(settings, storage=shared[0]), engine_factory(settings, storage=shared[1])


def polled_on_time(
    engine: GrantEngine, code: str, clock: FakeClock, settings: Settings, polls: int
) -> None:
    """``polls`` polls of ``code``, each answered pending, the interval apart (and after)."""
    for _ in range(polls):
        assert poll(engine, code) is AUTHORIZATION_PENDING
        clock.advance(settings.interval)


@dataclass
class Known:
    """A flow started on instance ``a`` and polled there twice (known pending to ``a``), and a
    second instance ``b`` on the same database."""

    a: GrantEngine
    b: GrantEngine
    started: DeviceAuthorization
    shared: tuple[Storage, Storage]


@pytest.fixture
def known(
    engine_factory: EngineFactory,
    rfc_settings: Settings,
    clock: FakeClock,
    shared: tuple[Storage, Storage],
) -> Known:
    a, b = instances(engine_factory, rfc_settings, shared)
    started = start(a)
    polled_on_time(a, started.device_code, clock, rfc_settings, 2)
    return Known(a, b, started, shared)


def row_polled_at(store: Storage, device_code: str, engine: GrantEngine) -> float | None:
    grant = store.find_grant(device_hash=engine.device._hasher().digest("device", device_code))
    assert grant is not None
    return grant.last_poll_at


def test_polls_of_a_flow_known_pending_run_no_statement_on_its_row(
    engine_factory: EngineFactory, rfc_settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    store = SQLiteStorage(tmp_path / "one.sqlite3")
    try:
        engine = engine_factory(rfc_settings, storage=store)
        code = start(engine).device_code  # stored by this instance: known pending
        statements = Statements(store)
        polls = int(TRUST_FOR // rfc_settings.interval)
        for _ in range(polls):
            assert poll(engine, code) is AUTHORIZATION_PENDING
            clock.advance(rfc_settings.interval)
        # Only the change log was read; the row was neither read nor written.
        assert statements.queries() and all("grant_changes" in s for s in statements.queries())
        assert row_polled_at(store, code, engine) is None
        statements.clear()  # TRUST_FOR after the flow started: storage judges this poll
        assert poll(engine, code) is AUTHORIZATION_PENDING
        assert any(s.lstrip().startswith("UPDATE device_grants") for s in statements.writes())
        assert row_polled_at(store, code, engine) == clock()  # recorded, trusted again
        statements.clear()
        clock.advance(rfc_settings.interval)
        assert poll(engine, code) is AUTHORIZATION_PENDING
        assert all("grant_changes" in s for s in statements.queries())
    finally:
        store.close()


def test_a_flow_started_elsewhere_is_trusted_after_one_poll_storage_accepts(
    engine_factory: EngineFactory,
    rfc_settings: Settings,
    clock: FakeClock,
    shared: tuple[Storage, Storage],
) -> None:
    a, b = instances(engine_factory, rfc_settings, shared)
    code = start(b).device_code
    assert poll(a, code) is AUTHORIZATION_PENDING  # storage accepted it (and told its terms)
    first = row_polled_at(shared[0], code, a)
    clock.advance(rfc_settings.interval)
    assert poll(a, code) is AUTHORIZATION_PENDING
    assert row_polled_at(shared[0], code, a) == first  # from memory


def test_early_poll_of_a_confirmed_flow_is_slow_down_though_storage_lags(
    engine_factory: EngineFactory, rfc_settings: Settings, clock: FakeClock
) -> None:
    engine = engine_factory(rfc_settings)
    code = start(engine).device_code
    poll(engine, code)
    clock.advance(rfc_settings.interval)
    assert poll(engine, code) is AUTHORIZATION_PENDING  # from memory: storage's row lags
    clock.advance(1)  # early by the last poll answered, on time by storage's row
    assert poll(engine, code) == SlowDown(rfc_settings.interval + 5)


@pytest.mark.parametrize("decision", ["approved", "denied"])
def test_decision_on_another_instance_reaches_the_next_poll(
    engine_factory: EngineFactory,
    rfc_settings: Settings,
    clock: FakeClock,
    shared: tuple[Storage, Storage],
    decision: str,
) -> None:
    a, b = instances(engine_factory, rfc_settings, shared)
    started = start(a)
    polled_on_time(a, started.device_code, clock, rfc_settings, 3)
    approve(b, started.user_code, approve=decision == "approved")
    clock.advance(FOLLOW_EVERY)
    expected = {"approved": "tokens", "denied": "access_denied"}[decision]
    assert answer(a, started.device_code) == expected


def test_decision_on_this_instance_reaches_the_next_poll_at_once(
    engine_factory: EngineFactory, rfc_settings: Settings, clock: FakeClock
) -> None:
    engine = engine_factory(rfc_settings)
    started = start(engine)
    poll(engine, started.device_code)
    clock.advance(rfc_settings.interval)
    assert poll(engine, started.device_code) is AUTHORIZATION_PENDING
    approve(engine, started.user_code)
    clock.advance(rfc_settings.interval)
    assert answer(engine, started.device_code) == "tokens"


def test_expiry_set_by_another_process_reaches_the_next_poll(
    known: Known, clock: FakeClock
) -> None:
    a, b, started = known.a, known.b, known.started
    assert b.expire_user_code(started.user_code)  # test control, on the other instance
    clock.advance(FOLLOW_EVERY)
    assert answer(a, started.device_code) == "expired_token"


def test_a_flow_expires_from_memory_too(
    engine_factory: EngineFactory, rfc_settings: Settings, clock: FakeClock
) -> None:
    engine = engine_factory(rfc_settings)
    code = start(engine).device_code
    poll(engine, code)
    clock.advance(rfc_settings.lifetimes.device_code)
    assert answer(engine, code) == "expired_token"


def test_an_instance_that_fell_behind_the_change_log_trusts_nothing(
    known: Known, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, started, shared = known.a, known.b, known.started, known.shared
    monkeypatch.setattr(_sql, "KEPT_CHANGES", 2)  # the log keeps two changes
    approve(b, started.user_code)
    for flow in [start(b) for _ in range(3)]:  # three more changes, then the log's trim
        assert b.expire_user_code(flow.user_code)
    shared[1].purge_expired(0.0)
    clock.advance(FOLLOW_EVERY)
    # a never read the approval: it cannot know which flows changed, so storage answers.
    assert answer(a, started.device_code) == "tokens"


def test_a_change_log_that_cannot_be_read_sends_polls_to_storage(
    known: Known, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, started, shared = known.a, known.b, known.started, known.shared

    reads: list[int | None] = []

    def unreadable(after: int | None) -> tuple[int, tuple[str, ...] | None]:
        reads.append(after)
        raise OSError("the log is out of reach")

    monkeypatch.setattr(shared[0], "grant_changes", unreadable)
    clock.advance(FOLLOW_EVERY)
    assert poll(a, started.device_code) is AUTHORIZATION_PENDING  # storage answered
    assert len(reads) == 1
    approve(b, started.user_code)
    clock.advance(known.a.settings.interval)
    assert answer(a, started.device_code) == "tokens"  # storage answered, not memory
    assert len(reads) == 2  # one try per poll here (the retry wait is shorter than the interval)


def test_after_a_failed_read_the_log_is_not_read_again_for_a_while() -> None:
    store = MemoryStorage()
    reads: list[int | None] = []

    def unreadable(after: int | None) -> tuple[int, tuple[str, ...] | None]:
        reads.append(after)
        raise OSError("the log is out of reach")

    store.grant_changes = unreadable  # type: ignore[method-assign]
    pacer = Pacer(store, lambda: 60)
    assert pacer.mark(100.0) is None and len(reads) == 1
    assert pacer.mark(100.0 + FOLLOW_RETRY / 2) is None and len(reads) == 1  # no stall again
    assert pacer.mark(100.0 + FOLLOW_RETRY) is None and len(reads) == 2


def test_a_change_log_read_again_after_a_failure_trusts_again(
    engine_factory: EngineFactory,
    rfc_settings: Settings,
    clock: FakeClock,
    shared: tuple[Storage, Storage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = engine_factory(rfc_settings, storage=shared[0])
    code = start(a).device_code
    readable = shared[0].grant_changes
    monkeypatch.setattr(shared[0], "grant_changes", lambda after: 1 / 0)
    clock.advance(rfc_settings.interval)
    assert poll(a, code) is AUTHORIZATION_PENDING  # the read failed: storage answered
    first = row_polled_at(shared[0], code, a)
    assert first == clock()
    monkeypatch.setattr(shared[0], "grant_changes", readable)
    clock.advance(max(FOLLOW_RETRY, rfc_settings.interval))
    assert poll(a, code) is AUTHORIZATION_PENDING  # storage again: it re-reads the log, trusts
    clock.advance(rfc_settings.interval)
    second = row_polled_at(shared[0], code, a)
    assert poll(a, code) is AUTHORIZATION_PENDING
    assert row_polled_at(shared[0], code, a) == second  # from memory again


def test_a_flow_is_not_trusted_when_the_log_moved_on_during_its_statement() -> None:
    store = MemoryStorage()
    store.insert_grant(grant())
    pacer = Pacer(store, lambda: 60)
    mark = pacer.mark(101.0)  # taken before the poll's statement
    terms = store.record_poll(PendingPoll(101.0, "d1", "c", "t", 0.5))
    assert terms is not None
    # Meanwhile the flow is approved elsewhere and another poll reads the log (which names a
    # flow this instance did not know yet): only the mark tells this acceptance is stale.
    assert store.update_grant("d1", {"status": "pending"}, {"status": "approved"})
    assert pacer.follow(101.0 + FOLLOW_EVERY)
    pacer.accepted(PendingPoll(101.0, "d1", "c", "t", 0.5), terms, mark)
    assert not pacer.pending(PendingPoll(106.0, "d1", "c", "t", 0.5))  # storage decides
    fresh = pacer.mark(106.0)
    pacer.accepted(PendingPoll(106.0, "d1", "c", "t", 0.5), terms, fresh)
    assert pacer.pending(PendingPoll(111.0, "d1", "c", "t", 0.5))  # a current mark trusts


def test_a_full_table_drops_expired_flows_then_the_oldest_eighth() -> None:
    store = MemoryStorage()
    pacer = Pacer(store, lambda: 60, max_entries=16)
    mark = pacer.mark(100.0)
    for n in range(1, 17):  # d1 and d2 expire at 105, the others later
        pacer.created(grant(n, expires_at=105.0 if n <= 2 else 1000.0), mark)
    assert len(pacer) == 16
    pacer.created(grant(17, created=110.0), pacer.mark(110.0))  # full: the expired ones go
    assert len(pacer) == 15
    pacer.created(grant(18, created=110.0), pacer.mark(110.0))
    pacer.created(grant(19, created=110.0), pacer.mark(110.0))  # full: the oldest eighth goes
    assert len(pacer) == 15  # room for an eighth more before the next pass
    pacer.created(grant(20, created=110.0), pacer.mark(110.0))
    assert len(pacer) == 16
    answered = {
        n for n in range(1, 21) if pacer.pending(PendingPoll(120.0, f"d{n}", "c", "t", 0.5))
    }
    assert answered == set(range(5, 21))  # d3 and d4 were the oldest live flows


def test_the_table_s_entries_are_out_of_the_collector_s_sight() -> None:
    # A tracked entry per flow (a named tuple stays tracked) made every full collection walk
    # the whole table, and each poll's new entry counted toward the next one.
    import gc

    pacer = Pacer(MemoryStorage(), lambda: 60)
    mark = pacer.mark(100.0)
    pacer.created(grant(1, expires_at=1000.0), mark)
    pacer.accepted(PendingPoll(101.0, "d2", "c", "t", 0.5), PollTerms(1000.0, 5), mark)
    assert pacer.pending(PendingPoll(106.0, "d1", "c", "t", 0.5))
    gc.collect()
    entries = list(pacer._paces.values())
    assert len(entries) == 2
    assert not any(gc.is_tracked(entry) for entry in entries)
