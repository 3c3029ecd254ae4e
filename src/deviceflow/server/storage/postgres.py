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
"""

from __future__ import annotations

import dataclasses
import re
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from psycopg import Connection, Cursor, OperationalError
from psycopg.conninfo import conninfo_to_dict
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


class _Owner:
    """Lives in one thread's locals for as long as that thread keeps a poll connection."""


def postgres_migrations() -> list[tuple[int, str]]:
    """The migrations as ``(version, sql)`` for PostgreSQL, in order."""
    return [
        (version, re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql))
        for version, sql in sqlite_migrations()
    ]


class PostgresStorage:
    """A :class:`~deviceflow.server.storage.base.Storage` in a PostgreSQL database."""

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 10.0
    ) -> None:
        """Connect (a pool of ``min_size`` to ``max_size`` connections) and migrate.

        The server calls storage from its event loop thread, which keeps one connection for
        the pending poll (``_poll_cursor``); the others serve every other call and the odd
        worker thread.

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
        """Close the pool; the storage is unusable afterwards."""
        with self._held_lock:
            held, self._held = self._held, []
        for conn in held:
            conn.close()
        self._pool.close()

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
        params = {
            "now": now,
            "device_hash": device_hash,
            "client_id": client_id,
            "tenant_id": tenant_id,
            "leeway": leeway,
        }
        cursor = self._poll_cursor()
        if cursor is None:
            if leeway is None:
                return self._one(_CHECK_POLL, params) is not None
            return self._count(_RECORD_POLL, params) == 1
        try:
            if leeway is None:
                return cursor.execute(_CHECK_POLL, params, prepare=True).fetchone() is not None
            return cursor.execute(_RECORD_POLL, params, prepare=True).rowcount == 1
        except OperationalError:
            self._drop_poll_cursor(cursor)
            raise

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
