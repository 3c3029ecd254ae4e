"""The awaitable pending poll answers exactly as the synchronous one (PostgreSQL and SQLite).

``arecord_poll`` batches the polls of the moment (PostgreSQL: one pipelined round trip on the
server's event loop; SQLite: one transaction at the end of the loop's turn); it must run the
same statement and read it the same way as ``record_poll``. Every case below runs twice on the
same starting row, once per driver, and both the answer and the row afterwards must agree. The
async side runs in ``asyncio.run`` (the loop ends with the test).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deviceflow.server.storage.base import DeviceGrant, PendingPoll, PollTerms, async_poll
from deviceflow.server.storage.postgres import PostgresStorage
from deviceflow.server.storage.sqlite import SQLiteStorage
from tests.contract.test_storage_contract import grant

_TABLES = "device_grants, refresh_tokens, counters, kv"
Store = PostgresStorage | SQLiteStorage


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStorage]:
    store = PostgresStorage(postgres_url, async_poll_size=2)
    with store._pool.connection() as conn:
        conn.execute(f"TRUNCATE {_TABLES}".encode())
    yield store
    store.close()


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[SQLiteStorage]:
    store = SQLiteStorage(tmp_path / "poll.sqlite3")
    yield store
    store.close()


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest) -> Store:
    """Each backend that offers the awaitable poll."""
    found: Store = request.getfixturevalue("pg" if request.param == "postgresql" else "lite")
    return found


def _clear(store: Store) -> None:
    if isinstance(store, PostgresStorage):
        with store._pool.connection() as conn:
            conn.execute("TRUNCATE device_grants")
    else:
        store._conn().execute("DELETE FROM device_grants")


def accepted(answers: list[PollTerms | None]) -> list[bool]:
    """Which polls storage accepted (it answers their grant's terms)."""
    return [answer is not None for answer in answers]


def _poll(device_hash: Any, **kw: Any) -> PendingPoll:
    return PendingPoll(device_hash=device_hash, **kw)


async def _awaited(store: Store, **kw: Any) -> PollTerms | None:
    """One awaited poll of ``d1`` (a coroutine: the storage hands out its batch's future)."""
    return await store.arecord_poll(_poll("d1", **kw))


def _run(store: Store, **kw: Any) -> PollTerms | None:
    async def main() -> PollTerms | None:
        try:
            return await store.arecord_poll(_poll("d1", **kw))
        finally:
            await store.aclose()

    return asyncio.run(main())


CASES = [
    # (id, row changes, poll arguments, expected answer)
    ("pending-first-poll", {}, {"now": 101.0}, True),
    ("pending-on-time", {"last_poll_at": 100.0}, {"now": 104.5}, True),
    ("slow-down-too-early", {"last_poll_at": 100.0}, {"now": 104.0}, False),
    ("pending-no-interval-rule", {"last_poll_at": 100.0}, {"now": 100.1, "leeway": None}, True),
    ("approved", {"status": "approved"}, {"now": 150.0}, False),
    ("denied", {"status": "denied"}, {"now": 150.0}, False),
    ("consumed", {"status": "consumed"}, {"now": 150.0, "leeway": None}, False),
    ("expired", {"expires_at": 150.0}, {"now": 150.0}, False),
    ("other-client", {}, {"now": 150.0, "client_id": "other"}, False),
    ("other-tenant", {}, {"now": 150.0, "tenant_id": "other", "leeway": None}, False),
    ("unknown", None, {"now": 150.0}, False),
]


@pytest.mark.parametrize(
    ("changes", "poll", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_async_and_sync_poll_agree(
    store: Store,
    changes: dict[str, object] | None,
    poll: dict[str, Any],
    expected: bool,
) -> None:
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "leeway": 0.5, **poll}
    outcomes: list[tuple[PollTerms | None, DeviceGrant | None]] = []
    for driver in ("sync", "async"):
        _clear(store)
        if changes is not None:
            store.insert_grant(dataclasses.replace(grant(), **changes))  # type: ignore[arg-type]
        answer = store.record_poll(_poll("d1", **kw)) if driver == "sync" else _run(store, **kw)
        outcomes.append((answer, store.find_grant(device_hash="d1")))
    assert outcomes[0] == outcomes[1]  # the same terms (or None), the same row
    assert (outcomes[0][0] is not None) is expected
    if expected:  # what an accepted poll reads back: the grant's expiry and interval
        row = outcomes[0][1]
        assert row is not None and outcomes[0][0] == (row.expires_at, row.interval)


def _every_case(store: Store) -> tuple[list[dict[str, Any]], list[bool]]:
    """One device per case (``d1`` ...), and each case's expected answer."""
    polls: list[dict[str, Any]] = []
    for n, (_id, changes, poll, _expected) in enumerate(CASES, start=1):
        if changes is not None:
            store.insert_grant(dataclasses.replace(grant(n), **changes))  # type: ignore[arg-type]
        polls.append({"client_id": "c", "tenant_id": "t", "leeway": 0.5, **poll})
    return polls, [case[3] for case in CASES]


def test_one_batch_of_every_case_agrees_with_the_sync_answers(store: Store) -> None:
    """All cases at once (one device each): they share a batch, each keeps its answer."""
    polls, expected = _every_case(store)

    async def main() -> list[PollTerms | None]:
        try:
            return list(
                await asyncio.gather(
                    *(
                        store.arecord_poll(_poll(f"d{n}", **kw))
                        for n, kw in enumerate(polls, start=1)
                    )
                )
            )
        finally:
            await store.aclose()

    assert accepted(asyncio.run(main())) == expected


def test_the_backend_offers_the_async_poll(store: Store) -> None:
    assert async_poll(store) is store


def test_concurrent_async_polls_record_one_winner(store: Store) -> None:
    """Twenty polls of one device at the same moment: the statement lets one through."""
    store.insert_grant(grant())

    async def main() -> list[PollTerms | None]:
        try:
            polls = [
                store.arecord_poll(_poll("d1", client_id="c", tenant_id="t", now=101.0, leeway=0.5))
                for _ in range(20)
            ]
            return list(await asyncio.gather(*polls))
        finally:
            await store.aclose()

    assert sorted(accepted(asyncio.run(main()))) == [False] * 19 + [True]
    found = store.find_grant(device_hash="d1")
    assert found is not None and found.last_poll_at == 101.0


# -- SQLite: one transaction per turn of the loop -------------------------------------------


def _statements(store: SQLiteStorage) -> list[str]:
    """Every statement this thread's connection runs from now on (a live list)."""
    seen: list[str] = []
    store._conn().set_trace_callback(seen.append)
    return seen


def test_sqlite_runs_the_polls_of_one_turn_in_one_transaction(lite: SQLiteStorage) -> None:
    polls, expected = _every_case(lite)
    seen = _statements(lite)

    async def main() -> list[PollTerms | None]:
        answers = await asyncio.gather(
            *(lite.arecord_poll(_poll(f"d{n}", **kw)) for n, kw in enumerate(polls, start=1))
        )
        later = await lite.arecord_poll(_poll("d2", **polls[1]))  # a later turn: a batch of its own
        return [*answers, later]

    assert accepted(asyncio.run(main())) == [*expected, False]  # d2 was just polled: too early now
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE"]  # the polls write last_poll_at
    assert seen.count("COMMIT") == 1
    # The later batch of one is its one statement, a transaction of its own (autocommit).
    assert len(seen) == 2 + len(CASES) + 1


def test_sqlite_read_only_batches_take_no_write_lock(lite: SQLiteStorage) -> None:
    lite.insert_grant(grant())
    seen = _statements(lite)
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": None}

    async def main() -> list[PollTerms | None]:
        return list(await asyncio.gather(*(lite.arecord_poll(_poll("d1", **kw)) for _ in range(3))))

    assert accepted(asyncio.run(main())) == [True, True, True]
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN"]


def test_sqlite_a_failed_batch_fails_each_poll_and_keeps_nothing(
    lite: SQLiteStorage, tmp_path: Path
) -> None:
    lite.insert_grant(grant())
    lite.insert_grant(grant(2))
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": 0.5}
    other = sqlite3.connect(tmp_path / "poll.sqlite3", isolation_level=None)
    lite._conn().execute("PRAGMA busy_timeout = 0")  # do not wait for the other writer

    async def main() -> list[object]:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            return list(
                await asyncio.gather(
                    lite.arecord_poll(_poll("d1", **kw)),
                    lite.arecord_poll(_poll("d2", **kw)),
                    return_exceptions=True,
                )
            )
        finally:
            other.execute("ROLLBACK")

    try:
        answers = asyncio.run(main())
    finally:
        other.close()
    assert [type(a) for a in answers] == [sqlite3.OperationalError] * 2
    assert not lite._conn().in_transaction
    for code in ("d1", "d2"):
        found = lite.find_grant(device_hash=code)
        assert found is not None and found.last_poll_at is None
    assert _run(lite, **kw)  # the lock is gone: the next batch works


def test_sqlite_a_statement_failing_mid_batch_rolls_back_the_ones_before(
    lite: SQLiteStorage,
) -> None:
    lite.insert_grant(grant())
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": 0.5}
    seen = _statements(lite)

    async def main() -> list[object]:
        return list(
            await asyncio.gather(
                lite.arecord_poll(_poll("d1", **kw)),  # runs: d1's last poll time is written ...
                lite.arecord_poll(_poll(object(), **kw)),  # ... this cannot
                return_exceptions=True,
            )
        )

    first, second = asyncio.run(main())
    assert isinstance(first, sqlite3.ProgrammingError)
    assert isinstance(second, sqlite3.ProgrammingError)
    assert first is not second and first.__cause__ is second.__cause__  # one failure, copied
    assert "ROLLBACK" in seen and "COMMIT" not in seen
    found = lite.find_grant(device_hash="d1")
    assert found is not None and found.last_poll_at is None  # ... and is rolled back
    assert _run(lite, **kw)


def test_sqlite_polls_on_a_closed_storage_fail_instead_of_hanging(
    lite: SQLiteStorage,
) -> None:
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": 0.5}

    async def closed_while_waiting() -> None:
        waiting = lite.arecord_poll(_poll("d1", **kw))  # queued; the flush ends this turn
        lite.close()
        with pytest.raises(RuntimeError, match="storage is closed"):
            await asyncio.wait_for(waiting, 5)

    async def already_closed() -> None:
        with pytest.raises(RuntimeError, match="storage is closed"):
            await asyncio.wait_for(lite.arecord_poll(_poll("d1", **kw)), 5)
        await lite.aclose()

    asyncio.run(closed_while_waiting())
    asyncio.run(already_closed())


def test_sqlite_aclose_forgets_a_batch_left_by_an_ended_loop(lite: SQLiteStorage) -> None:
    lite.insert_grant(grant())
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": 0.5}
    first = asyncio.new_event_loop()
    left = first.create_task(_awaited(lite, **kw))
    first.call_soon(first.stop)
    first.run_forever()  # one turn: the poll is queued, its flush (next turn) never runs
    first.close()
    assert not left.done()
    asyncio.run(lite.aclose())  # another loop: nothing to answer, nothing raised
    found = lite.find_grant(device_hash="d1")
    assert found is not None and found.last_poll_at is None
    assert _run(lite, **kw)  # the next loop starts a batch of its own


def test_sqlite_a_poll_whose_request_went_away_does_not_stop_the_others(
    lite: SQLiteStorage,
) -> None:
    lite.insert_grant(grant())
    lite.insert_grant(grant(2))
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": 0.5}

    async def main() -> PollTerms | None:
        gone = lite.arecord_poll(_poll("d1", **kw))
        kept = lite.arecord_poll(_poll("d2", **kw))  # both queued for this turn's batch
        gone.cancel()
        return await kept

    assert asyncio.run(main())
    polled = lite.find_grant(device_hash="d1")
    assert polled is not None and polled.last_poll_at == 101.0  # the statement still ran


def test_sqlite_aclose_answers_the_polls_still_waiting(lite: SQLiteStorage) -> None:
    lite.insert_grant(grant())
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": 0.5}

    async def main() -> PollTerms | None:
        waiting = lite.arecord_poll(_poll("d1", **kw))  # queued, not yet flushed
        await lite.aclose()  # the row is written before the loop turns again
        found = lite.find_grant(device_hash="d1")
        assert found is not None and found.last_poll_at == 101.0
        return await waiting

    assert asyncio.run(main())


# -- PostgreSQL: connections of the loop ------------------------------------------------------


def test_a_lost_connection_is_replaced(pg: PostgresStorage) -> None:
    from psycopg import OperationalError

    pg.insert_grant(grant())
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": None}

    async def main() -> None:
        try:
            assert await pg.arecord_poll(_poll("d1", **kw))
            assert pg._async is not None
            (poller,) = pg._async.opened
            with pg._pool.connection() as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (poller.pgconn.backend_pid,))
            with pytest.raises(OperationalError):
                await pg.arecord_poll(_poll("d1", **kw))
            assert await pg.arecord_poll(_poll("d1", **kw))  # a fresh connection
        finally:
            await pg.aclose()

    asyncio.run(main())


def test_close_without_aclose_closes_the_loops_connections(pg: PostgresStorage) -> None:
    """A loop that ended without ``aclose``: the next loop, then ``close()``, clean up."""
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 1.0, "leeway": None}
    assert not asyncio.run(_awaited(pg, **kw))  # its connection outlives the loop
    assert not asyncio.run(_awaited(pg, **kw))  # a new loop: new connections
    # the fixture's close() closes the rest; filterwarnings=error catches an unclosed one


def test_postgres_aclose_answers_the_polls_still_queued(pg: PostgresStorage) -> None:
    pg.insert_grant(grant())
    pg.insert_grant(grant(2))
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": 0.5}

    async def main() -> list[PollTerms | None]:
        polls = [asyncio.ensure_future(pg.arecord_poll(_poll(f"d{n}", **kw))) for n in (1, 2, 3)]
        await asyncio.sleep(0)  # queued, not answered yet
        await pg.aclose()
        return list(await asyncio.wait_for(asyncio.gather(*polls), 5))

    assert accepted(asyncio.run(main())) == [True, True, False]  # d3 does not exist


def test_postgres_aclose_fails_a_batch_that_does_not_finish(
    pg: PostgresStorage, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    from deviceflow.server.storage import _pg_pipeline

    monkeypatch.setattr(_pg_pipeline, "_CLOSE_GRACE", 0.5)
    pg.insert_grant(grant())
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": 0.5}
    with psycopg.connect(postgres_url) as other:
        other.execute("SELECT 1 FROM device_grants WHERE device_hash = 'd1' FOR UPDATE")

        async def main() -> None:
            stuck = asyncio.ensure_future(
                pg.arecord_poll(_poll("d1", **kw))
            )  # waits on the row lock
            await asyncio.sleep(0.3)
            await asyncio.wait_for(pg.aclose(), 5)
            with pytest.raises(psycopg.OperationalError, match="interrupted"):
                await asyncio.wait_for(stuck, 5)

        asyncio.run(main())
        other.rollback()  # (the server may still run the sent statement then: it is harmless)


def test_each_failed_poll_gets_its_own_copy_of_the_error(pg: PostgresStorage) -> None:
    import psycopg

    from deviceflow.server.storage.base import fail_each

    with pg._pool.connection() as conn:
        try:
            conn.execute("SELECT 1/0")
        except psycopg.Error as exc:
            error = exc
    assert error.pgresult is not None

    class Strict(Exception):
        def __init__(self, message: str, *, code: int) -> None:
            super().__init__(message)
            self.code = code

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for original in (error, Strict("no", code=7)):
            futures = [loop.create_future() for _ in range(3)]
            futures[2].cancel()  # a poll whose request went away
            fail_each(futures, original)
            first, second = (f.exception() for f in futures[:2])
            assert first is not second and first is not original
            assert type(first) is type(original) and str(first) == str(original)
            assert first.__cause__ is original and vars(first) == vars(original)
            assert futures[2].cancelled()
        assert error.pgresult is not None and error.sqlstate == "22012"  # the original intact

    asyncio.run(main())
