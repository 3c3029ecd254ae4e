"""SQLite storage (the default): WAL journal, numbered SQL migrations, one connection per thread.

Every compare-and-set is a single ``UPDATE ... WHERE <expected values>`` whose row count says
who won, so concurrent pollers in threads or in other processes sharing the file see exactly
one winner (RFC 8628 §3.5 one-time redemption). Migrations are the ``migrations/NNNN_*.sql``
files, applied in order and recorded in ``PRAGMA user_version``.

The pending poll also has an awaitable twin, :meth:`SQLiteStorage.arecord_poll`: the same
statement with the same answer, but the polls awaited during one turn of the event loop run
together, in one transaction, at the end of that turn. In WAL mode every transaction takes and
releases the file's locks with system calls, which cost about as much as the statement itself;
a batch pays them once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from deviceflow.server.storage.base import (
    GRANT_COLUMNS,
    REFRESH_COLUMNS,
    Counter,
    DeviceGrant,
    RefreshRecord,
    check_columns,
    decode_row,
    encode_row,
    fail_each,
)

# Numbered parameters bound from a tuple (cheaper than names; this runs on every poll):
# ?1 now, ?2 device_hash, ?3 client_id, ?4 tenant_id, ?5 leeway.
_LIVE = (
    " WHERE device_hash = ?2 AND client_id = ?3 AND tenant_id = ?4"
    " AND status = 'pending' AND expires_at > ?1"
)
_CHECK_POLL = "SELECT 1 FROM device_grants" + _LIVE
_RECORD_POLL = (
    "UPDATE device_grants SET last_poll_at = ?1"
    + _LIVE
    + " AND (last_poll_at IS NULL OR ?1 - last_poll_at >= interval - ?5)"
)


_PollParams = tuple[float, str, str, str, float | None]
_Poll = tuple[_PollParams, "asyncio.Future[bool]"]
"""One awaited poll: the statement's parameters (``_RECORD_POLL``'s order) and its answer."""


def _run_poll(cursor: sqlite3.Cursor, params: _PollParams) -> bool:
    """The poll statement for ``params`` (``_RECORD_POLL``'s order): ``True`` when accepted."""
    if params[4] is None:  # no interval rule: nothing to record, only to check
        return cursor.execute(_CHECK_POLL, params[:4]).fetchone() is not None
    return cursor.execute(_RECORD_POLL, params).rowcount == 1


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


class SQLiteStorage:
    """A :class:`~deviceflow.server.storage.base.Storage` in one SQLite file."""

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

    def _poll_cursor(self) -> sqlite3.Cursor:
        """This thread's cursor for the poll statement, made once: a new cursor per statement
        costs about a third of the whole poll (each use reads its one row before the next)."""
        cursor: sqlite3.Cursor | None = getattr(self._local, "poll_cursor", None)
        if cursor is None:
            cursor = self._local.poll_cursor = self._conn().cursor()
        return cursor

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for version, sql in migrations():
                if version > current:
                    for statement in sql.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {int(version)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _flush(self, batch: _PollBatch) -> None:
        """Run every poll of ``batch`` in one transaction on this thread's connection; answer
        each one's future (all of them fail together when the transaction does)."""
        waiting, batch.waiting = batch.waiting, []
        if not waiting:
            return
        writes = any(params[4] is not None for params, _ in waiting)
        try:
            # Inside the try: a closed storage or a connection that cannot open fails the
            # polls too (they have left the queue: nothing else would ever answer them).
            cursor = self._poll_cursor()
            # IMMEDIATE when a poll writes: take the write lock first, so that no statement
            # of the batch meets a snapshot another writer has moved on from.
            cursor.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
            try:
                answers = [_run_poll(cursor, params) for params, _ in waiting]
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

    async def arecord_poll(
        self,
        device_hash: str,
        *,
        client_id: str,
        tenant_id: str,
        now: float,
        leeway: float | None,
    ) -> bool:
        """:meth:`record_poll`, awaitable: the polls awaited during one turn of the event loop
        run together in one transaction at its end (same statement, same answer).

        Raises:
            sqlite3.Error: the batch's transaction failed (every poll of the batch gets it).
        """
        loop = asyncio.get_running_loop()
        batch: _PollBatch | None = getattr(self._local, "poll_batch", None)
        if batch is None or batch.loop is not loop:  # the first poll, or this thread's new loop
            batch = self._local.poll_batch = _PollBatch(loop)
        future: asyncio.Future[bool] = loop.create_future()
        if not batch.waiting:
            loop.call_soon(self._flush, batch)
        batch.waiting.append(((now, device_hash, client_id, tenant_id, leeway), future))
        return await future

    async def aclose(self) -> None:
        """Answer the polls still waiting on this thread's loop now, and forget its batch (a
        batch left by an earlier loop of this thread is only forgotten: its loop is gone)."""
        batch: _PollBatch | None = getattr(self._local, "poll_batch", None)
        if batch is not None:
            self._local.poll_batch = None
            if batch.loop is asyncio.get_running_loop():
                self._flush(batch)

    def close(self) -> None:
        """Close every connection this storage opened (in any thread)."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
            self._local = threading.local()  # forget every thread's cached connection
        for conn in connections:
            conn.close()

    # -- device grants ----------------------------------------------------------------------

    def insert_grant(self, grant: DeviceGrant) -> bool:
        """See :meth:`Storage.insert_grant`."""
        conn = self._conn()
        row = encode_row(dataclasses.asdict(grant))
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "DELETE FROM device_grants WHERE user_hash = ? AND expires_at <= ?",
                (grant.user_hash, grant.created_at),
            )
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            conn.execute(
                f"INSERT INTO device_grants ({columns}) VALUES ({marks})", tuple(row.values())
            )
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK")
            return False
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return True

    def find_grant(
        self, *, device_hash: str | None = None, user_hash: str | None = None
    ) -> DeviceGrant | None:
        """See :meth:`Storage.find_grant`."""
        column, value = (
            ("device_hash", device_hash) if device_hash is not None else ("user_hash", user_hash)
        )
        row = self._select("device_grants", column, value)
        return None if row is None else DeviceGrant(**row)

    def update_grant(
        self, device_hash: str, expect: Mapping[str, object], changes: Mapping[str, object]
    ) -> bool:
        """See :meth:`Storage.update_grant`."""
        check_columns([*expect, *changes], GRANT_COLUMNS)
        return self._update("device_grants", "device_hash", device_hash, expect, changes)

    def record_poll(
        self,
        device_hash: str,
        *,
        client_id: str,
        tenant_id: str,
        now: float,
        leeway: float | None,
    ) -> bool:
        """See :meth:`Storage.record_poll`."""
        return _run_poll(self._poll_cursor(), (now, device_hash, client_id, tenant_id, leeway))

    # -- refresh tokens ---------------------------------------------------------------------

    def insert_refresh(self, record: RefreshRecord) -> None:
        """See :meth:`Storage.insert_refresh`."""
        row = encode_row(dataclasses.asdict(record))
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self._conn().execute(
            f"INSERT INTO refresh_tokens ({columns}) VALUES ({marks})", tuple(row.values())
        )

    def find_refresh(self, token_hash: str) -> RefreshRecord | None:
        """See :meth:`Storage.find_refresh`."""
        row = self._select("refresh_tokens", "token_hash", token_hash)
        return None if row is None else RefreshRecord(**row)

    def update_refresh(
        self, token_hash: str, expect: Mapping[str, object], changes: Mapping[str, object]
    ) -> bool:
        """See :meth:`Storage.update_refresh`."""
        check_columns([*expect, *changes], REFRESH_COLUMNS)
        return self._update("refresh_tokens", "token_hash", token_hash, expect, changes)

    # -- counters and values ----------------------------------------------------------------

    def hit(self, key: str, *, now: float, window: float, amount: int = 1) -> Counter:
        """See :meth:`Storage.hit`."""
        conn = self._conn()
        if amount == 0:
            row = conn.execute(
                "SELECT count, reset_at FROM counters WHERE key = ?", (key,)
            ).fetchone()
            if row is None or row[1] <= now:
                return Counter(count=0, reset_at=now + window)
            return Counter(count=row[0], reset_at=row[1])
        row = conn.execute(
            "INSERT INTO counters (key, count, reset_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET "
            "count = CASE WHEN counters.reset_at <= ? THEN excluded.count"
            " ELSE counters.count + excluded.count END, "
            "reset_at = CASE WHEN counters.reset_at <= ? THEN excluded.reset_at"
            " ELSE counters.reset_at END "
            "RETURNING count, reset_at",
            (key, amount, now + window, now, now),
        ).fetchone()
        return Counter(count=row[0], reset_at=row[1])

    def get_value(self, namespace: str, key: str) -> str | None:
        """See :meth:`Storage.get_value`."""
        row = (
            self._conn()
            .execute("SELECT value FROM kv WHERE namespace = ? AND key = ?", (namespace, key))
            .fetchone()
        )
        return None if row is None else str(row[0])

    def put_value(self, namespace: str, key: str, value: str, *, replace: bool = True) -> bool:
        """See :meth:`Storage.put_value`."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        cursor = self._conn().execute(
            f"{verb} INTO kv (namespace, key, value) VALUES (?, ?, ?)", (namespace, key, value)
        )
        return cursor.rowcount == 1

    # -- helpers ----------------------------------------------------------------------------

    def _select(self, table: str, column: str, value: object) -> dict[str, Any] | None:
        cursor = self._conn().execute(f"SELECT * FROM {table} WHERE {column} = ?", (value,))
        row = cursor.fetchone()
        if row is None:
            return None
        names = [d[0] for d in cursor.description]
        return decode_row(dict(zip(names, row, strict=True)))

    def _update(
        self,
        table: str,
        key_column: str,
        key: str,
        expect: Mapping[str, object],
        changes: Mapping[str, object],
    ) -> bool:
        if not changes:
            raise ValueError("nothing to update")
        sets = ", ".join(f"{name} = ?" for name in changes)
        wheres = "".join(f" AND {name} IS ?" for name in expect)
        params = [*encode_row(changes).values(), key, *encode_row(expect).values()]
        cursor = self._conn().execute(
            f"UPDATE {table} SET {sets} WHERE {key_column} = ?{wheres}", params
        )
        return cursor.rowcount == 1
