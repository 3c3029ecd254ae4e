"""PostgreSQL storage: several server instances share one database and act as one.

Theory of operation. Every method is one SQL statement (``insert_grant`` is two, in one
transaction) on a pooled connection in autocommit mode, so the database, not process memory,
decides every race: a compare-and-set is ``UPDATE ... WHERE <key> AND <expected values>`` and
its row count says who won (one-time redemption, approve/deny once, refresh-token rotation);
``hit`` is one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (rate-limit counters);
``record_poll`` is one conditional ``UPDATE`` (the pending poll, the hot path).

Migrations are the SQLite files (``migrations/NNNN_*.sql``, kept to the SQL both dialects
share) with PostgreSQL's types: ``REAL`` -> ``DOUBLE PRECISION`` (epoch seconds need more than
PostgreSQL's 24-bit ``REAL``). A migration that cannot be shared would add a dialect-specific
file next to it and a branch here. The applied version
lives in ``deviceflow_schema``; a transaction-scoped advisory lock lets instances that start
together migrate once.

Poll timestamps are written with ``synchronous_commit`` off for that statement only: a
database crash may forget the last fraction of a second of them (a device then polls once more
without ``slow_down``), but never an approval, a redemption or a rotation.

The pending poll also has an awaitable twin, :meth:`PostgresStorage.arecord_poll`: the same
statement (:func:`poll_statement`) read the same way (:func:`poll_accepted`), on two
connections of the server's event loop in pipeline mode, so the loop serves other requests
while PostgreSQL answers (the synchronous driver blocks the loop for each round trip), and the
polls that arrive during one round trip go out together in the next (see
:class:`_AsyncPollConnections`). They are opened on first use and closed by
:meth:`~PostgresStorage.aclose` (the app's lifespan) or, at the latest, by
:meth:`~PostgresStorage.close`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from psycopg import AsyncConnection, Connection, Cursor, OperationalError, errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import ExecStatus
from psycopg_pool import ConnectionPool, PoolTimeout

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
from deviceflow.server.storage.sqlite import migrations as sqlite_migrations

_LOCK_ID = 0x64657669  # "devi": the advisory lock that serialises migrations
_GRANT_FIELDS = tuple(DeviceGrant.__dataclass_fields__)
_REFRESH_FIELDS = tuple(RefreshRecord.__dataclass_fields__)
_SELECT_GRANT = f"SELECT {', '.join(_GRANT_FIELDS)} FROM device_grants WHERE "
_SELECT_REFRESH = f"SELECT {', '.join(_REFRESH_FIELDS)} FROM refresh_tokens WHERE token_hash = %s"
_LIVE = (
    " WHERE device_hash = %(device_hash)s AND client_id = %(client_id)s"
    " AND tenant_id = %(tenant_id)s AND status = 'pending' AND expires_at > %(now)s"
)
_CHECK_POLL = "SELECT 1 FROM device_grants" + _LIVE
_RECORD_POLL = (
    "UPDATE device_grants SET last_poll_at = %(now)s"
    " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
    + _LIVE
    + " AND (last_poll_at IS NULL OR %(now)s - last_poll_at >= interval - %(leeway)s)"
)
_HIT = (
    "INSERT INTO counters (key, count, reset_at) VALUES (%s, %s, %s) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN counters.reset_at <= %s THEN excluded.count"
    " ELSE counters.count + excluded.count END, "
    "reset_at = CASE WHEN counters.reset_at <= %s THEN excluded.reset_at"
    " ELSE counters.reset_at END "
    "RETURNING count, reset_at"
)


def poll_statement(
    device_hash: str, *, client_id: str, tenant_id: str, now: float, leeway: float | None
) -> tuple[str, dict[str, object]]:
    """The pending poll's one statement and its parameters (both drivers run exactly this)."""
    params: dict[str, object] = {
        "now": now,
        "device_hash": device_hash,
        "client_id": client_id,
        "tenant_id": tenant_id,
        "leeway": leeway,
    }
    return (_CHECK_POLL if leeway is None else _RECORD_POLL), params


_TEXT_OID, _FLOAT8_OID = 25, 701
_PARAM_TYPES = {"now": _FLOAT8_OID, "leeway": _FLOAT8_OID}
"""Type OIDs of :func:`poll_statement`'s parameters that are not ``text``."""


def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """A ``%(name)s`` statement with ``$n`` placeholders, and the parameters' names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", number, sql), tuple(names)


def _text(value: object) -> bytes | None:
    """A parameter in PostgreSQL's text format (floats as ``repr``: exact for float8)."""
    if value is None:
        return None
    if isinstance(value, str):
        if "\x00" in value:  # as psycopg refuses it for the synchronous twin
            raise errors.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        return value.encode()
    if isinstance(value, float | int) and not isinstance(value, bool):
        return repr(float(value)).encode()
    raise TypeError(f"unexpected poll parameter {value!r}")


def poll_accepted(rowcount: int) -> bool:
    """Read :func:`poll_statement`'s outcome: one row selected or updated is an accepted poll."""
    return rowcount == 1


class _Owner:
    """Lives in one thread's locals for as long as that thread keeps a poll connection."""


_PREPARED = {
    sql: (name.encode(), *positional(sql))
    for name, sql in (
        ("deviceflow_check_poll", _CHECK_POLL),
        ("deviceflow_record_poll", _RECORD_POLL),
    )
}
"""Each poll statement's prepared name, its ``$n`` text and its parameters' order."""

_Queued = tuple[bytes, list[bytes | None], "asyncio.Future[int]"]
_CLOSE_GRACE = 5.0
"""Seconds ``aclose`` lets the batches in flight finish before it fails them."""


class _AsyncPollConnections:
    """A few connections of one event loop in pipeline mode, and a queue of polls.

    Each poll joins the queue; up to ``size`` drain tasks, one per connection, send what has
    queued up since their last round trip in one pipeline (the poll statement once per poll,
    each with its own result, then one sync), so under load many polls share a round trip and
    its two system calls. Until the sync the batch is one implicit transaction: every
    statement is atomic as always, and if one fails the whole batch fails (nothing of it is
    kept; each of its polls gets the error). Connections are opened on demand; one whose
    batch failed is closed and forgotten, and the next batch opens a fresh one.
    """

    def __init__(self, url: str, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.url = url
        self.size = size
        self.loop = loop
        self.queue: list[_Queued] = []
        self.idle: list[AsyncConnection[tuple[Any, ...]]] = []
        self.opened: list[AsyncConnection[tuple[Any, ...]]] = []
        self.drains: set[asyncio.Task[None]] = set()
        self.closed = False

    def submit(self, sql: str, params: Mapping[str, object]) -> asyncio.Future[int]:
        """Queue one poll statement; its future resolves to the statement's row count."""
        name, _text_sql, order = _PREPARED[sql]
        future: asyncio.Future[int] = self.loop.create_future()
        self.queue.append((name, [_text(params[n]) for n in order], future))
        if len(self.drains) < self.size:
            task = self.loop.create_task(self._drain())
            self.drains.add(task)
            task.add_done_callback(self.drains.discard)
        return future

    async def _drain(self) -> None:
        conn: AsyncConnection[tuple[Any, ...]] | None = None
        try:
            while self.queue and not self.closed:
                batch, self.queue = self.queue, []
                try:
                    if conn is None:
                        conn = self.idle.pop() if self.idle else await self._open()
                    for name, values, _future in batch:
                        conn.pgconn.send_query_prepared(name, values)
                    counts = await self._exchange(conn)
                except BaseException as exc:
                    if conn is not None:
                        self._discard(conn)
                        conn = None
                    failure = (
                        exc
                        if isinstance(exc, Exception)
                        else OperationalError(f"the poll was interrupted ({type(exc).__name__})")
                    )
                    fail_each((future for _name, _values, future in batch), failure)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_name, _values, future), count in zip(batch, counts, strict=True):
                    if not future.done():  # its request may have gone away
                        future.set_result(count)
        finally:
            # Leave the set now, not in the done callback a loop turn later: a poll queued
            # in between would find every slot taken and wait for a drain that has ended.
            task = asyncio.current_task()
            if task is not None:
                self.drains.discard(task)
            if conn is not None:
                if self.closed:
                    _finish(conn)
                else:
                    self.idle.append(conn)

    async def _open(self) -> AsyncConnection[tuple[Any, ...]]:
        conn = await AsyncConnection.connect(self.url, autocommit=True)
        try:
            pgconn = conn.pgconn
            pgconn.enter_pipeline_mode()  # from here on, only _exchange talks on it
            # Protocol-level prepared statements (poolers such as PgBouncer 1.21+ track them).
            for name, sql, order in _PREPARED.values():
                types = [_PARAM_TYPES.get(n, _TEXT_OID) for n in order]
                pgconn.send_prepare(name, sql.encode(), types)
            await self._exchange(conn)
        except BaseException:
            await conn.close()
            raise
        self.opened.append(conn)
        return conn

    async def _exchange(self, conn: AsyncConnection[tuple[Any, ...]]) -> list[int]:
        """Sync what was sent in pipeline mode, read every result up to the sync; row counts.

        Raises:
            psycopg.Error: a statement failed (then every one before the sync is undone),
                or the connection did.
        """
        pgconn = conn.pgconn
        pgconn.pipeline_sync()
        while pgconn.flush():  # 1: more to send once the socket takes it
            await self._ready(pgconn.socket, write=True)
        counts: list[int] = []
        failure: Exception | None = None
        while True:
            pgconn.consume_input()
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:
                    if pgconn.is_busy() or (result := pgconn.get_result()) is None:
                        break  # between two statements' results, or nothing more yet
                status = result.status
                if status == ExecStatus.PIPELINE_SYNC:
                    if failure is not None:
                        raise failure
                    return counts
                if status == ExecStatus.COMMAND_OK or status == ExecStatus.TUPLES_OK:
                    counts.append(result.command_tuples or 0)
                elif status != ExecStatus.PIPELINE_ABORTED and failure is None:
                    failure = errors.error_from_result(result, encoding=conn.info.encoding)
            await self._ready(pgconn.socket, write=False)

    async def _ready(self, fd: int, *, write: bool) -> None:
        future: asyncio.Future[None] = self.loop.create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        if write:
            self.loop.add_writer(fd, wake)
        else:
            self.loop.add_reader(fd, wake)
        try:
            await future
        finally:
            if write:
                self.loop.remove_writer(fd)
            else:
                self.loop.remove_reader(fd)

    def _discard(self, conn: AsyncConnection[tuple[Any, ...]]) -> None:
        if conn in self.opened:
            self.opened.remove(conn)
        _finish(conn)

    async def aclose(self) -> None:
        """Answer the polls queued or in flight (for up to :data:`_CLOSE_GRACE` seconds; then
        they fail), then close the connections."""
        drains = set(self.drains)
        if drains:
            _done, late = await asyncio.wait(drains, timeout=_CLOSE_GRACE)
            for task in late:
                task.cancel()  # its batch fails with OperationalError
            if late:
                await asyncio.wait(late)
        self.closed = True
        queued, self.queue = self.queue, []
        fail_each(
            (future for _name, _values, future in queued),
            OperationalError("the server's poll connections were closed"),
        )
        opened, self.opened, self.idle = self.opened, [], []
        for conn in opened:
            await conn.close()

    def close(self) -> None:
        """Close without the event loop (from ``PostgresStorage.close``)."""
        self.closed = True
        opened, self.opened, self.idle = self.opened, [], []
        for conn in opened:
            _finish(conn)


def _finish(conn: AsyncConnection[tuple[Any, ...]]) -> None:
    """What ``AsyncConnection.close()`` does for an unpooled connection, without awaiting."""
    conn.pgconn.finish()


def postgres_migrations() -> list[tuple[int, str]]:
    """The migrations as ``(version, sql)`` for PostgreSQL, in order."""
    return [
        (version, re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql))
        for version, sql in sqlite_migrations()
    ]


class PostgresStorage:
    """A :class:`~deviceflow.server.storage.base.Storage` in a PostgreSQL database."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 4,
        timeout: float = 10.0,
        async_poll_size: int = 2,
    ) -> None:
        """Connect (a pool of ``min_size`` to ``max_size`` connections) and migrate.

        The server awaits its pending polls (:meth:`arecord_poll`) on up to
        ``async_poll_size`` more connections of its event loop, opened on first use. A thread
        that calls :meth:`record_poll` keeps one pooled connection for it (``_poll_cursor``);
        the others serve every other call.

        Raises:
            ConnectionError: the database cannot be reached within ``timeout`` seconds.
        """
        self._pool: ConnectionPool[Connection[tuple[Any, ...]]] = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            open=False,
            name="deviceflow",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            self._pool.close()
            where = conninfo_to_dict(url).get("host", "localhost")
            raise ConnectionError(
                f"cannot reach PostgreSQL on {where} within {timeout:g} s"
            ) from exc
        self._local = threading.local()
        self._held: list[Connection[tuple[Any, ...]]] = []
        self._held_lock = threading.Lock()
        self._url = url
        self._async_poll_size = async_poll_size
        self._async: _AsyncPollConnections | None = None
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def _migrate(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            conn.execute("CREATE TABLE IF NOT EXISTS deviceflow_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM deviceflow_schema").fetchone()
            current = row[0] if row and row[0] is not None else 0
            for version, sql in postgres_migrations():
                if version > current:
                    for statement in sql.split(";"):
                        if statement.strip():
                            conn.execute(statement.encode())
                    conn.execute("INSERT INTO deviceflow_schema (version) VALUES (%s)", (version,))

    def close(self) -> None:
        """Close the pool (and the event loop's poll connections); unusable afterwards."""
        if self._async is not None:
            self._async.close()
            self._async = None
        with self._held_lock:
            held, self._held = self._held, []
        for conn in held:
            conn.close()
        self._pool.close()

    async def aclose(self) -> None:
        """Close the event loop's poll connections (the rest stays open; see :meth:`close`).

        Call it on the loop that used :meth:`arecord_poll`, before the loop ends (the app's
        lifespan does); the next :meth:`arecord_poll` opens new ones.
        """
        conns, self._async = self._async, None
        if conns is not None:
            if conns.loop is asyncio.get_running_loop():
                await conns.aclose()
            else:
                conns.close()

    def _poll_cursor(self) -> Cursor[tuple[Any, ...]] | None:
        """A cursor on a connection this thread keeps for :meth:`record_poll`, if one is free.

        The pending poll is the hot path: a pool checkout and return per poll cost more CPU
        than the statement itself, so a calling thread (in practice the event loop's) keeps
        one pooled connection and one cursor, and runs the poll as a prepared statement. At
        most ``max_size - 1`` connections are kept so (one is always left to the other
        methods); beyond that, threads use the pool for polls too. A kept connection goes back
        to the pool when its thread ends or its statement fails.
        """
        cursor: Cursor[tuple[Any, ...]] | None = getattr(self._local, "poll_cursor", None)
        if cursor is not None and not cursor.connection.closed:
            return cursor
        with self._held_lock:
            if len(self._held) >= self._pool.max_size - 1:
                return None
            conn = self._pool.getconn()
            self._held.append(conn)
        cursor = self._local.poll_cursor = conn.cursor()
        # The thread's locals die with it: then the connection goes back to the pool.
        self._local.owner = owner = _Owner()
        weakref.finalize(owner, self._give_back, conn)
        return cursor

    def _give_back(self, conn: Connection[tuple[Any, ...]]) -> None:
        """Return a kept connection to the pool (which replaces it if it is broken)."""
        with self._held_lock:
            if conn not in self._held:
                return  # closed by close(), or given back already
            self._held.remove(conn)
        self._pool.putconn(conn)

    def _drop_poll_cursor(self, cursor: Cursor[tuple[Any, ...]]) -> None:
        """Forget this thread's failed hot connection and give it back to the pool."""
        self._local.poll_cursor = None
        self._give_back(cursor.connection)

    def _one(self, sql: str, params: Any) -> tuple[Any, ...] | None:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchone()

    def _count(self, sql: str, params: Any) -> int:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).rowcount

    # -- device grants ----------------------------------------------------------------------

    def insert_grant(self, grant: DeviceGrant) -> bool:
        """See :meth:`Storage.insert_grant`."""
        row = encode_row(dataclasses.asdict(grant))
        columns = ", ".join(row)
        marks = ", ".join("%s" for _ in row)
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(
                "DELETE FROM device_grants WHERE user_hash = %s AND expires_at <= %s",
                (grant.user_hash, grant.created_at),
            )
            cursor = conn.execute(
                f"INSERT INTO device_grants ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                tuple(row.values()),
            )
            return cursor.rowcount == 1

    def find_grant(
        self, *, device_hash: str | None = None, user_hash: str | None = None
    ) -> DeviceGrant | None:
        """See :meth:`Storage.find_grant`."""
        if device_hash is not None:
            found = self._one(_SELECT_GRANT + "device_hash = %s", (device_hash,))
        else:
            found = self._one(_SELECT_GRANT + "user_hash = %s", (user_hash,))
        if found is None:
            return None
        return DeviceGrant(**decode_row(dict(zip(_GRANT_FIELDS, found, strict=True))))

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
        sql, params = poll_statement(
            device_hash, client_id=client_id, tenant_id=tenant_id, now=now, leeway=leeway
        )
        cursor = self._poll_cursor()
        if cursor is None:
            return poll_accepted(self._count(sql, params))
        try:
            return poll_accepted(cursor.execute(sql, params, prepare=True).rowcount)
        except OperationalError:
            self._drop_poll_cursor(cursor)
            raise

    async def arecord_poll(
        self,
        device_hash: str,
        *,
        client_id: str,
        tenant_id: str,
        now: float,
        leeway: float | None,
    ) -> bool:
        """:meth:`record_poll` without blocking the event loop (same statement, same answer).

        Runs on a connection of the calling loop (opened on first use); on a second loop
        while the first one still runs, it falls back to :meth:`record_poll`.
        """
        loop = asyncio.get_running_loop()
        conns = self._async
        if conns is None or conns.loop is not loop:
            if conns is not None and not conns.loop.is_closed():
                return self.record_poll(
                    device_hash, client_id=client_id, tenant_id=tenant_id, now=now, leeway=leeway
                )
            if conns is not None:
                conns.close()  # left behind by a loop that has ended
            conns = self._async = _AsyncPollConnections(self._url, self._async_poll_size, loop)
        sql, params = poll_statement(
            device_hash, client_id=client_id, tenant_id=tenant_id, now=now, leeway=leeway
        )
        return poll_accepted(await conns.submit(sql, params))

    # -- refresh tokens ---------------------------------------------------------------------

    def insert_refresh(self, record: RefreshRecord) -> None:
        """See :meth:`Storage.insert_refresh`."""
        row = encode_row(dataclasses.asdict(record))
        columns = ", ".join(row)
        marks = ", ".join("%s" for _ in row)
        self._count(f"INSERT INTO refresh_tokens ({columns}) VALUES ({marks})", tuple(row.values()))

    def find_refresh(self, token_hash: str) -> RefreshRecord | None:
        """See :meth:`Storage.find_refresh`."""
        found = self._one(_SELECT_REFRESH, (token_hash,))
        if found is None:
            return None
        return RefreshRecord(**decode_row(dict(zip(_REFRESH_FIELDS, found, strict=True))))

    def update_refresh(
        self, token_hash: str, expect: Mapping[str, object], changes: Mapping[str, object]
    ) -> bool:
        """See :meth:`Storage.update_refresh`."""
        check_columns([*expect, *changes], REFRESH_COLUMNS)
        return self._update("refresh_tokens", "token_hash", token_hash, expect, changes)

    # -- counters and values ----------------------------------------------------------------

    def hit(self, key: str, *, now: float, window: float, amount: int = 1) -> Counter:
        """See :meth:`Storage.hit`."""
        if amount == 0:
            found = self._one("SELECT count, reset_at FROM counters WHERE key = %s", (key,))
            if found is None or found[1] <= now:
                return Counter(count=0, reset_at=now + window)
            return Counter(count=found[0], reset_at=found[1])
        found = self._one(_HIT, (key, amount, now + window, now, now))
        assert found is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
        return Counter(count=found[0], reset_at=found[1])

    def get_value(self, namespace: str, key: str) -> str | None:
        """See :meth:`Storage.get_value`."""
        found = self._one(
            "SELECT value FROM kv WHERE namespace = %s AND key = %s", (namespace, key)
        )
        return None if found is None else str(found[0])

    def put_value(self, namespace: str, key: str, value: str, *, replace: bool = True) -> bool:
        """See :meth:`Storage.put_value`."""
        action = "DO UPDATE SET value = excluded.value" if replace else "DO NOTHING"
        sql = (
            "INSERT INTO kv (namespace, key, value) VALUES (%s, %s, %s)"
            f" ON CONFLICT (namespace, key) {action}"
        )
        return self._count(sql, (namespace, key, value)) == 1

    # -- helpers ----------------------------------------------------------------------------

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
        sets = ", ".join(f"{name} = %s" for name in changes)
        wheres = "".join(f" AND {name} IS NOT DISTINCT FROM %s" for name in expect)
        params = [*encode_row(changes).values(), key, *encode_row(expect).values()]
        sql = f"UPDATE {table} SET {sets} WHERE {key_column} = %s{wheres}"
        return self._count(sql, params) == 1
