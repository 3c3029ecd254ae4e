"""SQLite storage (the default): WAL journal, numbered SQL migrations, one connection per thread.

The statements are :class:`~deviceflow.server.storage._sql.SQLStore`'s, so concurrent callers
in threads or in other processes sharing the file see exactly one winner of every
compare-and-set (RFC 8628 §3.5 one-time redemption). Migrations are the
``migrations/NNNN_*.sql`` files, applied in order and recorded in ``PRAGMA user_version``.

The pending poll also has an awaitable twin, :meth:`SQLiteStorage.arecord_poll`: the same
statement with the same answer, but the polls awaited during one turn of the event loop run
together, in one transaction, at the end of that turn. In WAL mode every transaction takes and
releases the file's locks with system calls, which cost about as much as the statement itself;
a batch pays them once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from deviceflow.server.grant.on_time import pending_poll_sql
from deviceflow.server.storage._directory_sql import DirectorySQL
from deviceflow.server.storage._sql import Params, SQLStore, Statement
from deviceflow.server.storage.base import PendingPoll, PollTerms, fail_each

# Numbered parameters bound from the PendingPoll itself (no dictionary: this runs on every poll).
_LIVE, _ON_TIME = pending_poll_sql("?{n}")
_TERMS = "expires_at, interval"
"""What an accepted poll reads back (:class:`~deviceflow.server.storage.base.PollTerms`)."""
_CHECK_POLL = f"SELECT {_TERMS} FROM device_grants WHERE {_LIVE}"
_RECORD_POLL = (
    f"UPDATE device_grants SET last_poll_at = ?1 WHERE {_LIVE} AND {_ON_TIME} RETURNING {_TERMS}"
)

_Poll = tuple[PendingPoll, "asyncio.Future[PollTerms | None]"]
"""One awaited poll and its answer."""


def _run_poll(cursor: sqlite3.Cursor, poll: PendingPoll) -> PollTerms | None:
    """The poll statement for ``poll``: the grant's terms when accepted."""
    if poll.leeway is None:  # no interval rule: nothing to record, only to check
        row = cursor.execute(_CHECK_POLL, poll[:4]).fetchone()
    else:  # every row read, so the statement is done before the next one
        rows = cursor.execute(_RECORD_POLL, poll).fetchall()
        row = rows[0] if rows else None
    return None if row is None else PollTerms(*row)


class _PollBatch:
    """The polls awaited on one event loop since its last flush (see ``arecord_poll``)."""

    __slots__ = ("loop", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: list[_Poll] = []


def migrations() -> list[tuple[int, str]]:
    """The bundled migrations as ``(version, sql)``, in order."""
    folder = resources.files("deviceflow.server.storage") / "migrations"
    found = [
        (int(item.name.split("_", 1)[0]), item.read_text(encoding="utf-8"))
        for item in folder.iterdir()
        if item.name.endswith(".sql")
    ]
    return sorted(found)


class SQLiteStorage(SQLStore, DirectorySQL):
    """A :class:`~deviceflow.server.storage.base.Storage` in one SQLite file."""

    mark = "?"
    same = "IS"

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self._path = str(path)
        self._timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._migrate(self._conn())

    # -- connections ------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise RuntimeError("storage is closed")
            conn = sqlite3.connect(
                self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            self._connections.append(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._local.conn = conn
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        with conn:  # commits, or rolls back on an exception
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for version, sql in migrations():
                if version > current:
                    for statement in sql.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {int(version)}")

    def close(self) -> None:
        """Close every connection this storage opened (in any thread)."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
            self._local = threading.local()  # forget every thread's cached connection
        for conn in connections:
            conn.close()

    # -- statements (the protocol's other methods are SQLStore's) ----------------------------

    def _schema(self) -> tuple[int, int]:
        row = self._conn().execute("PRAGMA user_version").fetchone()
        return int(row[0]), max(version for version, _ in migrations())

    def _one(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._conn().execute(sql, params).fetchone()
        return row

    def _count(self, sql: str, params: Params) -> int:
        return self._conn().execute(sql, params).rowcount

    def _rows(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        return self._conn().execute(sql, params).fetchall()

    def _transaction(self, statements: Sequence[Statement]) -> list[int]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        with conn:  # commits, or rolls back on an exception
            return [conn.execute(sql, params).rowcount for sql, params in statements]

    # -- the pending poll -------------------------------------------------------------------

    def record_poll(self, poll: PendingPoll) -> PollTerms | None:
        """See :meth:`Storage.record_poll`."""
        return _run_poll(self._poll_cursor(), poll)

    def _poll_cursor(self) -> sqlite3.Cursor:
        """This thread's cursor for the poll statement, made once: a new cursor per statement
        costs about a third of the whole poll (each use reads its one row before the next)."""
        cursor: sqlite3.Cursor | None = getattr(self._local, "poll_cursor", None)
        if cursor is None:
            cursor = self._local.poll_cursor = self._conn().cursor()
        return cursor

    def arecord_poll(self, poll: PendingPoll) -> asyncio.Future[PollTerms | None]:
        """:meth:`record_poll`, awaitable: the polls awaited during one turn of the event loop
        run together in one transaction at its end (same statement, same answer).

        Returns:
            The answer's future (on the running loop).

        Raises:
            RuntimeError: no event loop is running.
            sqlite3.Error: (from the future) the batch's transaction failed; every poll of
                the batch gets it.
        """
        loop = asyncio.get_running_loop()
        batch: _PollBatch | None = getattr(self._local, "poll_batch", None)
        if batch is None or batch.loop is not loop:  # the first poll, or this thread's new loop
            batch = self._local.poll_batch = _PollBatch(loop)
        future: asyncio.Future[PollTerms | None] = loop.create_future()
        if not batch.waiting:
            loop.call_soon(self._flush, batch)
        batch.waiting.append((poll, future))
        return future

    def _flush(self, batch: _PollBatch) -> None:
        """Run every poll of ``batch`` in one transaction on this thread's connection; answer
        each one's future (all of them fail together when the transaction does)."""
        waiting, batch.waiting = batch.waiting, []
        if not waiting:
            return
        try:
            # Inside the try: a closed storage or a connection that cannot open fails the
            # polls too (they have left the queue: nothing else would ever answer them).
            cursor = self._poll_cursor()
            if len(waiting) == 1:  # one statement is its own transaction (autocommit)
                answers = [_run_poll(cursor, waiting[0][0])]
            else:
                # IMMEDIATE when a poll writes: take the write lock first, so that no
                # statement of the batch meets a snapshot another writer has moved on from.
                writes = any(poll.leeway is not None for poll, _ in waiting)
                cursor.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
                try:
                    answers = [_run_poll(cursor, poll) for poll, _ in waiting]
                    cursor.execute("COMMIT")
                except BaseException:
                    if cursor.connection.in_transaction:
                        cursor.execute("ROLLBACK")
                    raise
        except Exception as exc:
            fail_each((future for _, future in waiting), exc)
            return
        for (_, future), answer in zip(waiting, answers, strict=True):
            if not future.done():
                future.set_result(answer)

    async def aclose(self) -> None:
        """Answer the polls still waiting on this thread's loop now, and forget its batch (a
        batch left by an earlier loop of this thread is only forgotten: its loop is gone)."""
        batch: _PollBatch | None = getattr(self._local, "poll_batch", None)
        if batch is not None:
            self._local.poll_batch = None
            if batch.loop is asyncio.get_running_loop():
                self._flush(batch)
