"""PostgreSQL storage: several server instances share one database and act as one.

Theory of operation. Every method is one SQL statement (``insert_grant`` is two, in one
transaction) on a pooled connection in autocommit mode, so the database, not process memory,
decides every race: the statements are :class:`~deviceflow.server.storage._sql.SQLStore`'s
(each compare-and-set an ``UPDATE`` whose row count says who won; ``hit`` is one
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), and ``record_poll`` is one conditional
``UPDATE`` (the pending poll, the hot path).

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
statements (:func:`poll_statements`), on connections of the server's event loop in pipeline
mode (:class:`~deviceflow.server.storage._pg_pipeline.PollPipeline`), so the loop serves other
requests while PostgreSQL answers. They are opened on first use and closed by
:meth:`~PostgresStorage.aclose` (the app's lifespan) or, at the latest, by
:meth:`~PostgresStorage.close`.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import Connection, Cursor, OperationalError
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from deviceflow.server.grant.on_time import pending_poll_sql
from deviceflow.server.storage import DatabaseSetupError
from deviceflow.server.storage._directory_sql import DirectorySQL
from deviceflow.server.storage._pg_pipeline import PollPipeline
from deviceflow.server.storage._sql import Params, SQLStore, Statement
from deviceflow.server.storage.base import PendingPoll, PollTerms
from deviceflow.server.storage.sqlite import migrations as sqlite_migrations

_CHECK_TIMEOUT = 2.0
"""Seconds :meth:`PostgresStorage.check` waits for a connection."""
_QUICK_TIMEOUT = 0.25
"""Seconds a read of the grant change log waits for a connection (it runs on the event loop;
a failed read only sends polls to the database for a moment: grant._pacing)."""
_LOCK_ID = 0x64657669  # "devi": the advisory lock that serialises migrations
_CHANGES_LOCK = 0x64636867  # "dchg": the one that numbers grant changes in commit order


def poll_statements(placeholder: str) -> tuple[str, str]:
    """The pending poll's statements, check only (no interval rule) and recording, with the
    parameters spelled by ``placeholder`` (as in
    :func:`~deviceflow.server.grant.on_time.pending_poll_sql`)."""
    live, on_time = pending_poll_sql(placeholder)
    now = placeholder.format(name="now", n=1)
    return (
        f"SELECT expires_at, interval FROM device_grants WHERE {live}",
        f"UPDATE device_grants SET last_poll_at = {now}"
        " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
        f" WHERE {live} AND {on_time} RETURNING expires_at, interval",
    )


_CHECK_POLL, _RECORD_POLL = poll_statements("%({name})s")
"""The synchronous driver's (psycopg binds them by name)."""
_PIPELINED = poll_statements("${n}")
"""The pipeline's (prepared on each of its connections)."""


_FOR_GOOD = ("does not exist", "authentication failed", "no pg_hba.conf entry")
"""What a refusal says when waiting cannot help (a server starting up also refuses, briefly)."""


def _reason(exc: OperationalError) -> str:
    """libpq's own words, without the "connection to server at ... failed:" preamble."""
    text = str(exc).strip()
    text = text.rpartition(" failed: ")[2] if " failed: " in text else text
    lines = (" ".join(line.replace("FATAL:", "").split()) for line in text.splitlines())
    return ". ".join(line for line in lines if line)


def _identifier(name: str) -> str:
    """``name`` as SQL spells it: quoted unless PostgreSQL would fold it to itself."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _refusal(url: str, exc: OperationalError) -> DatabaseSetupError | None:
    """The error for a connection PostgreSQL refused for good, else None."""
    reason = _reason(exc)
    if not any(words in reason for words in _FOR_GOOD):
        return None
    info = conninfo_to_dict(url)
    host, port = info.get("host", "localhost"), info.get("port", "5432")
    database = str(info.get("dbname") or info.get("user") or "?")
    message = f"PostgreSQL on {host}:{port} refused the connection: {reason}"
    if f'database "{database}" does not exist' in reason:
        message += (
            f"; create it with: createdb -h {host} -p {port}"
            + (f" -U {info['user']}" if info.get("user") else "")
            + f" {shlex.quote(database)} (or CREATE DATABASE {_identifier(database)}; as an"
            " administrator)"
        )
    return DatabaseSetupError(message)


class _Owner:
    """Lives in one thread's locals for as long as that thread keeps a poll connection."""


def postgres_migrations() -> list[tuple[int, str]]:
    """The migrations as ``(version, sql)`` for PostgreSQL, in order."""
    return [
        (version, re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql))
        for version, sql in sqlite_migrations()
    ]


class PostgresStorage(SQLStore, DirectorySQL):
    """A :class:`~deviceflow.server.storage.base.Storage` in a PostgreSQL database."""

    mark = "%s"
    same = "IS NOT DISTINCT FROM"
    # A sequence hands out numbers in the order transactions ask, not the order they commit:
    # a reader could pass a number whose change is not visible yet. Under this lock, held to
    # the commit, the next number is taken and made visible one transaction at a time.
    serialize = (("SELECT pg_advisory_xact_lock(%s)", (_CHANGES_LOCK,)),)

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
            DatabaseSetupError: PostgreSQL answered and refused for good (no such database,
                user or password), at once rather than after ``timeout``.
            ConnectionError: the database cannot be reached within ``timeout`` seconds.
        """
        # One connection first: a refusal for good fails now, with PostgreSQL's reason; the
        # pool below would retry it for ``timeout`` seconds and only then blame reachability.
        began = time.monotonic()
        try:
            psycopg.connect(url, connect_timeout=max(1, round(timeout))).close()
        except OperationalError as exc:
            refused = _refusal(url, exc)
            if refused is not None:
                raise refused from None
            first_failure = _reason(exc)
        else:
            first_failure = ""
        self._pool: ConnectionPool[Connection[tuple[Any, ...]]] = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            open=False,
            name="deviceflow",
        )
        try:
            self._pool.open(wait=True, timeout=max(timeout - (time.monotonic() - began), 0.5))
        except PoolTimeout as exc:
            self._pool.close()
            where = conninfo_to_dict(url).get("host", "localhost")
            port = conninfo_to_dict(url).get("port", "5432")
            raise ConnectionError(
                f"cannot reach PostgreSQL on {where} within {timeout:g} s (port {port}:"
                f" {first_failure or 'no connection in time'})"
            ) from exc
        self._local = threading.local()
        self._held: list[Connection[tuple[Any, ...]]] = []
        self._held_lock = threading.Lock()
        self._url = url
        self._async_poll_size = async_poll_size
        self._async: PollPipeline | None = None
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
        pipeline, self._async = self._async, None
        if pipeline is not None:
            if pipeline.loop is asyncio.get_running_loop():
                await pipeline.aclose()
            else:
                pipeline.close()

    # -- statements (the protocol's other methods are SQLStore's) ----------------------------

    def _schema(self) -> tuple[int, int]:
        # A short wait: a readiness probe must answer before its own timeout.
        with self._pool.connection(timeout=_CHECK_TIMEOUT) as conn:
            row = conn.execute("SELECT max(version) FROM deviceflow_schema").fetchone()
        found = int(row[0]) if row and row[0] is not None else 0
        return found, max(version for version, _ in postgres_migrations())

    def _one(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchone()

    def _count(self, sql: str, params: Params) -> int:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).rowcount

    def _rows(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def _quick_rows(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        # Read on the event loop every few milliseconds: never wait long for a connection.
        with self._pool.connection(timeout=_QUICK_TIMEOUT) as conn:
            return conn.execute(sql, params).fetchall()

    def _transaction(self, statements: Sequence[Statement]) -> list[int]:
        with self._pool.connection() as conn, conn.transaction():
            return [conn.execute(sql, params).rowcount for sql, params in statements]

    # -- the pending poll -------------------------------------------------------------------

    def record_poll(self, poll: PendingPoll) -> PollTerms | None:
        """See :meth:`Storage.record_poll`."""
        sql = _CHECK_POLL if poll.leeway is None else _RECORD_POLL
        params = poll._asdict()
        cursor = self._poll_cursor()
        if cursor is None:
            row = self._one(sql, params)
            return None if row is None else PollTerms(*row)
        try:
            row = cursor.execute(sql, params, prepare=True).fetchone()
            return None if row is None else PollTerms(*row)
        except OperationalError:
            self._drop_poll_cursor(cursor)
            raise

    def arecord_poll(self, poll: PendingPoll) -> asyncio.Future[PollTerms | None]:
        """:meth:`record_poll` without blocking the event loop (same statement, same answer).

        Runs on a connection of the calling loop (opened on first use); on a second loop
        while the first one still runs, it falls back to :meth:`record_poll`.

        Returns:
            The answer's future (on the running loop).

        Raises:
            RuntimeError: no event loop is running.
            psycopg.Error: (from the future) the poll's batch failed.
        """
        loop = asyncio.get_running_loop()
        pipeline = self._async
        if pipeline is None or pipeline.loop is not loop:
            if pipeline is not None and not pipeline.loop.is_closed():
                answer: asyncio.Future[PollTerms | None] = loop.create_future()
                answer.set_result(self.record_poll(poll))
                return answer
            if pipeline is not None:
                pipeline.close()  # left behind by a loop that has ended
            pipeline = self._async = PollPipeline(
                self._url, self._async_poll_size, loop, statements=_PIPELINED
            )
        return pipeline.submit(poll)

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
