"""PostgreSQL's awaitable pending poll answers exactly as the synchronous one.

``PostgresStorage.arecord_poll`` runs on the server's event loop instead of blocking it; it must
run the same statement and read it the same way as ``record_poll``. Every case below runs twice
on the same starting row, once per driver, and both the answer and the row afterwards must
agree. The async side runs in ``asyncio.run`` (the loop ends with the test).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from deviceflow.server.storage.base import DeviceGrant, async_poll
from deviceflow.server.storage.postgres import PostgresStorage
from tests.contract.test_storage_contract import grant

_TABLES = "device_grants, refresh_tokens, counters, kv"


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStorage]:
    store = PostgresStorage(postgres_url, async_poll_size=2)
    with store._pool.connection() as conn:
        conn.execute(f"TRUNCATE {_TABLES}".encode())
    yield store
    store.close()


def _run(store: PostgresStorage, **kw: Any) -> bool:
    async def main() -> bool:
        try:
            return await store.arecord_poll("d1", **kw)
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
    pg: PostgresStorage,
    changes: dict[str, object] | None,
    poll: dict[str, Any],
    expected: bool,
) -> None:
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "leeway": 0.5, **poll}
    outcomes: list[tuple[bool, DeviceGrant | None]] = []
    for driver in ("sync", "async"):
        with pg._pool.connection() as conn:
            conn.execute("TRUNCATE device_grants")
        if changes is not None:
            pg.insert_grant(dataclasses.replace(grant(), **changes))  # type: ignore[arg-type]
        answer = pg.record_poll("d1", **kw) if driver == "sync" else _run(pg, **kw)
        outcomes.append((answer, pg.find_grant(device_hash="d1")))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] is expected


def test_one_batch_of_every_case_agrees_with_the_sync_answers(pg: PostgresStorage) -> None:
    """All cases at once (one device each): they share a pipeline, each keeps its answer."""
    polls: list[dict[str, Any]] = []
    for n, (_id, changes, poll, _expected) in enumerate(CASES, start=1):
        if changes is not None:
            pg.insert_grant(dataclasses.replace(grant(n), **changes))  # type: ignore[arg-type]
        polls.append({"client_id": "c", "tenant_id": "t", "leeway": 0.5, **poll})
    expected = [case[3] for case in CASES]

    async def main() -> list[bool]:
        try:
            return list(
                await asyncio.gather(
                    *(pg.arecord_poll(f"d{n}", **kw) for n, kw in enumerate(polls, start=1))
                )
            )
        finally:
            await pg.aclose()

    assert asyncio.run(main()) == expected


def test_postgres_offers_the_async_poll(pg: PostgresStorage) -> None:
    assert async_poll(pg) is pg


def test_concurrent_async_polls_record_one_winner(pg: PostgresStorage) -> None:
    """Overlapping polls on two connections: one statement each, the database decides."""
    pg.insert_grant(grant())

    async def main() -> list[bool]:
        try:
            polls = [
                pg.arecord_poll("d1", client_id="c", tenant_id="t", now=101.0, leeway=0.5)
                for _ in range(20)
            ]
            return list(await asyncio.gather(*polls))
        finally:
            await pg.aclose()

    assert sorted(asyncio.run(main())) == [False] * 19 + [True]
    found = pg.find_grant(device_hash="d1")
    assert found is not None and found.last_poll_at == 101.0


def test_a_lost_connection_is_replaced(pg: PostgresStorage) -> None:
    from psycopg import OperationalError

    pg.insert_grant(grant())
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 101.0, "leeway": None}

    async def main() -> None:
        try:
            assert await pg.arecord_poll("d1", **kw)
            assert pg._async is not None
            (poller,) = pg._async.opened
            with pg._pool.connection() as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (poller.pgconn.backend_pid,))
            with pytest.raises(OperationalError):
                await pg.arecord_poll("d1", **kw)
            assert await pg.arecord_poll("d1", **kw)  # a fresh connection
        finally:
            await pg.aclose()

    asyncio.run(main())


def test_close_without_aclose_closes_the_loops_connections(pg: PostgresStorage) -> None:
    """A loop that ended without ``aclose``: the next loop, then ``close()``, clean up."""
    kw: dict[str, Any] = {"client_id": "c", "tenant_id": "t", "now": 1.0, "leeway": None}
    assert not asyncio.run(pg.arecord_poll("d1", **kw))  # its connection outlives the loop
    assert not asyncio.run(pg.arecord_poll("d1", **kw))  # a new loop: new connections
    # the fixture's close() closes the rest; filterwarnings=error catches an unclosed one
