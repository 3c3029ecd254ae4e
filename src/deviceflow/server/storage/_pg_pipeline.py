"""The PostgreSQL store's pending polls on the server's event loop, in pipeline mode.

Theory of operation. The synchronous driver blocks the event loop for each round trip, and a
fleet's pending polls are most of a server's requests. So :class:`PollPipeline` keeps a few
connections of the loop in libpq's pipeline mode and a queue of polls: the polls that arrive
while one round trip is out go together in the next, each its own prepared statement with its
own result, then one sync. The loop serves other requests while PostgreSQL answers. Only the
pending poll runs here (:meth:`PostgresStorage.arecord_poll`); the statements are the same ones
the synchronous path runs, built once by :mod:`deviceflow.server.storage.postgres`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from psycopg import AsyncConnection, OperationalError, errors
from psycopg.pq import ExecStatus

from deviceflow.server.storage.base import PendingPoll, PollTerms, fail_each

__all__ = ["PollPipeline"]

_NAMES = (b"deviceflow_check_poll", b"deviceflow_record_poll")
"""The prepared statements' names: check only (no interval rule), and record the poll."""

_TEXT_OID, _FLOAT8_OID = 25, 701
_PARAM_TYPES = [
    _FLOAT8_OID if name in ("now", "leeway") else _TEXT_OID for name in PendingPoll._fields
]
"""Type OIDs of the statements' parameters (a :class:`PendingPoll`'s fields, in order)."""

_Queued = tuple[bytes, list[bytes | None], "asyncio.Future[PollTerms | None]"]
_CLOSE_GRACE = 5.0
"""Seconds ``aclose`` lets the batches in flight finish before it fails them."""


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


class PollPipeline:
    """A few connections of one event loop in pipeline mode, and a queue of polls.

    Each poll joins the queue; up to ``size`` drain tasks, one per connection, send what has
    queued up since their last round trip in one pipeline (the poll statement once per poll,
    each with its own result, then one sync), so under load many polls share a round trip and
    its two system calls. Until the sync the batch is one implicit transaction: every
    statement is atomic as always, and if one fails the whole batch fails (nothing of it is
    kept; each of its polls gets the error). Connections are opened on demand; one whose
    batch failed is closed and forgotten, and the next batch opens a fresh one.
    """

    def __init__(
        self,
        url: str,
        size: int,
        loop: asyncio.AbstractEventLoop,
        *,
        statements: tuple[str, str],
    ) -> None:
        """``statements``: the poll's check-only and recording statements, ``$n`` placeholders
        in :class:`~deviceflow.server.storage.base.PendingPoll`'s order (prepared once per
        connection; each poll runs the one its ``leeway`` asks for)."""
        self.url = url
        self.size = size
        self.loop = loop
        self.statements = dict(zip(_NAMES, statements, strict=True))
        self.queue: list[_Queued] = []
        self.idle: list[AsyncConnection[tuple[Any, ...]]] = []
        self.opened: list[AsyncConnection[tuple[Any, ...]]] = []
        self.drains: set[asyncio.Task[None]] = set()
        self.closed = False

    def submit(self, poll: PendingPoll) -> asyncio.Future[PollTerms | None]:
        """Queue one poll; its future resolves to whether it was accepted (one row)."""
        # No interval rule: the check-only statement, which takes no leeway.
        name, values = (_NAMES[0], poll[:4]) if poll.leeway is None else (_NAMES[1], poll)
        future: asyncio.Future[PollTerms | None] = self.loop.create_future()
        self.queue.append((name, [_text(value) for value in values], future))
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
                    answers = await self._exchange(conn)
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
                for (_name, _values, future), answer in zip(batch, answers, strict=True):
                    if not future.done():  # its request may have gone away
                        future.set_result(answer)
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
            for name, sql in self.statements.items():
                types = _PARAM_TYPES[:4] if name == _NAMES[0] else _PARAM_TYPES
                pgconn.send_prepare(name, sql.encode(), types)
            await self._exchange(conn)
        except BaseException:
            await conn.close()
            raise
        self.opened.append(conn)
        return conn

    async def _exchange(self, conn: AsyncConnection[tuple[Any, ...]]) -> list[PollTerms | None]:
        """Sync what was sent in pipeline mode, read every result up to the sync: each
        statement's terms (its one row, in text), None for a statement that read no row.

        Raises:
            psycopg.Error: a statement failed (then every one before the sync is undone),
                or the connection did.
        """
        pgconn = conn.pgconn
        pgconn.pipeline_sync()
        while pgconn.flush():  # 1: more to send once the socket takes it
            await self._ready(pgconn.socket, write=True)
        answers: list[PollTerms | None] = []
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
                    return answers
                if status == ExecStatus.COMMAND_OK or status == ExecStatus.TUPLES_OK:
                    answers.append(_terms(result) if result.ntuples == 1 else None)
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


def _terms(result: Any) -> PollTerms | None:
    """The one row of an accepted poll's result (``expires_at, interval``, in text)."""
    expires_at, interval = result.get_value(0, 0), result.get_value(0, 1)
    if expires_at is None or interval is None:  # NOT NULL columns: never, but not a crash
        return None
    return PollTerms(float(expires_at), int(interval))
