"""What the SQLite and PostgreSQL stores share: their tables' statements, written once.

The two backends differ in how they reach the database (SQLite: one connection per thread;
PostgreSQL: a pool), in their migrations and in the pending poll (each has its own fast path);
every other statement is the same SQL with another placeholder. So :class:`SQLStore` holds
those methods once, and a backend supplies its placeholder, its null-safe equality and three
ways to run statements. It is internal, not an extension point: a new backend implements
:class:`~deviceflow.server.storage.base.Storage` (a protocol) however suits it.

Every compare-and-set is one ``UPDATE ... WHERE <key> AND <expected values>`` whose row count
says who won, so concurrent callers in any thread, process or instance see exactly one winner.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from deviceflow.server.storage.base import (
    CHANGES_READ,
    GRANT_COLUMNS,
    KEPT_CHANGES,
    REFRESH_COLUMNS,
    Counter,
    DeviceGrant,
    RefreshRecord,
    check_columns,
    logs_change,
)

Params = Sequence[Any] | Mapping[str, Any]
Statement = tuple[str, Params]

_TUPLE_COLUMNS = frozenset({"scopes"})
_COLUMNS = {"device_grants": GRANT_COLUMNS, "refresh_tokens": REFRESH_COLUMNS}
_GRANT_FIELDS = tuple(DeviceGrant.__dataclass_fields__)
_REFRESH_FIELDS = tuple(RefreshRecord.__dataclass_fields__)
_EXPIRY_COLUMNS = (
    ("device_grants", "expires_at"),
    ("refresh_tokens", "expires_at"),
    ("counters", "reset_at"),
)
"""What the purge deletes by (each column indexed: ``migrations/0001``, ``0002``)."""


def encode_row(values: Mapping[str, object]) -> dict[str, object]:
    """Field values as SQL parameters (tuples of scopes become one space-separated string)."""
    return {
        k: " ".join(v) if k in _TUPLE_COLUMNS and isinstance(v, tuple) else v
        for k, v in values.items()
    }


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`encode_row`, in place; returns ``row``."""
    for name in _TUPLE_COLUMNS & row.keys():
        row[name] = tuple(row[name].split()) if row[name] else ()
    return row


class SQLStore(abc.ABC):
    """The storage methods both SQL backends share (see the module docstring)."""

    mark: ClassVar[str]
    """The backend's placeholder (``?``, ``%s``)."""
    same: ClassVar[str]
    """The backend's null-safe equality (``IS``, ``IS NOT DISTINCT FROM``)."""
    serialize: ClassVar[tuple[Statement, ...]] = ()
    """What a transaction that logs a grant change runs first, so change numbers are taken in
    commit order (SQLite's ``BEGIN IMMEDIATE`` already serialises writers)."""

    @abc.abstractmethod
    def _one(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        """Run one statement on its own (committed); its first row."""

    @abc.abstractmethod
    def _count(self, sql: str, params: Params) -> int:
        """Run one statement on its own (committed); the number of rows it changed."""

    @abc.abstractmethod
    def _rows(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        """Run one query on its own; every row."""

    def _quick_rows(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        """:meth:`_rows` for a read on the event loop that must fail fast rather than wait
        (the grant change log); a backend that can wait for a connection bounds the wait."""
        return self._rows(sql, params)

    @abc.abstractmethod
    def _transaction(self, statements: Sequence[Statement]) -> list[int]:
        """Run ``statements`` in one transaction, all or nothing; each one's row count."""

    @abc.abstractmethod
    def _schema(self) -> tuple[int, int]:
        """The schema version the database holds, and the one this code needs."""

    # -- health -----------------------------------------------------------------------------

    def count_pending(self, now: float) -> int:
        """See :meth:`Storage.count_pending`."""
        sql = "SELECT count(*) FROM device_grants WHERE status = 'pending' AND expires_at > "
        row = self._one(sql + self.mark, (now,))
        return int(row[0]) if row else 0

    def check(self) -> str | None:
        """See :meth:`Storage.check`: one small query for the schema version."""
        try:
            found, wanted = self._schema()
        except Exception as exc:  # whatever the driver raises, the answer is "not ready"
            return f"database unreachable ({type(exc).__name__})"
        if found != wanted:
            return f"schema version {found}, expected {wanted}"
        return None

    # -- device grants ----------------------------------------------------------------------

    def insert_grant(self, grant: DeviceGrant) -> bool:
        """See :meth:`Storage.insert_grant`."""
        m = self.mark
        counts = self._transaction(
            [
                (
                    f"DELETE FROM device_grants WHERE user_hash = {m} AND expires_at <= {m}",
                    (grant.user_hash, grant.created_at),
                ),
                self._insert("device_grants", grant, " ON CONFLICT DO NOTHING"),
            ]
        )
        return counts[-1] == 1

    def find_grant(
        self, *, device_hash: str | None = None, user_hash: str | None = None
    ) -> DeviceGrant | None:
        """See :meth:`Storage.find_grant`."""
        column, value = (
            ("device_hash", device_hash) if device_hash is not None else ("user_hash", user_hash)
        )
        row = self._select("device_grants", _GRANT_FIELDS, column, value)
        return None if row is None else DeviceGrant(**row)

    def update_grant(
        self, device_hash: str, expect: Mapping[str, object], changes: Mapping[str, object]
    ) -> bool:
        """See :meth:`Storage.update_grant`; a change that may end a pending grant is logged
        in the same transaction (:class:`~deviceflow.server.storage.base.GrantChanges`)."""
        statement = self._update("device_grants", "device_hash", device_hash, expect, changes)
        if not logs_change(expect, changes):
            return self._count(*statement) == 1
        m = self.mark
        log = (  # the next number, under the writer's lock (a lost race logs harmlessly too)
            f"INSERT INTO grant_changes (seq, device_hash)"
            f" SELECT COALESCE(MAX(seq), 0) + 1, {m} FROM grant_changes",
            (device_hash,),
        )
        return self._transaction([*self.serialize, statement, log])[-2] == 1

    def grant_changes(self, after: int | None) -> tuple[int, tuple[str, ...] | None]:
        """See :meth:`GrantChanges.grant_changes <deviceflow.server.storage.base.GrantChanges.
        grant_changes>`."""
        if after is None:
            rows = self._quick_rows("SELECT COALESCE(MAX(seq), 0) FROM grant_changes", ())
            return int(rows[0][0]) if rows else 0, ()
        rows = self._quick_rows(
            f"SELECT seq, device_hash FROM grant_changes WHERE seq > {self.mark}"
            f" ORDER BY seq LIMIT {CHANGES_READ}",
            (after,),
        )
        if not rows:
            return after, ()
        if rows[0][0] != after + 1:  # numbers run without gaps: the ones between were trimmed
            return int(rows[-1][0]), None
        return int(rows[-1][0]), tuple(str(row[1]) for row in rows)

    # -- refresh tokens ---------------------------------------------------------------------

    def insert_refresh(self, record: RefreshRecord) -> None:
        """See :meth:`Storage.insert_refresh`."""
        self._count(*self._insert("refresh_tokens", record))

    def find_refresh(self, token_hash: str) -> RefreshRecord | None:
        """See :meth:`Storage.find_refresh`."""
        row = self._select("refresh_tokens", _REFRESH_FIELDS, "token_hash", token_hash)
        return None if row is None else RefreshRecord(**row)

    def update_refresh(
        self, token_hash: str, expect: Mapping[str, object], changes: Mapping[str, object]
    ) -> bool:
        """See :meth:`Storage.update_refresh`."""
        statement = self._update("refresh_tokens", "token_hash", token_hash, expect, changes)
        return self._count(*statement) == 1

    # -- counters and values ----------------------------------------------------------------

    def hit(self, key: str, *, now: float, window: float, amount: int = 1) -> Counter:
        """See :meth:`Storage.hit`."""
        m = self.mark
        if amount == 0:
            row = self._one(f"SELECT count, reset_at FROM counters WHERE key = {m}", (key,))
            if row is None or row[1] <= now:
                return Counter(count=0, reset_at=now + window)
            return Counter(count=row[0], reset_at=row[1])
        # A negative amount (a take-back) never takes a count below zero.
        row = self._one(
            f"INSERT INTO counters (key, count, reset_at) VALUES ({m}, {m}, {m}) "
            "ON CONFLICT (key) DO UPDATE SET "
            f"count = CASE WHEN counters.reset_at <= {m} THEN excluded.count"
            f" WHEN counters.count + {m} < 0 THEN 0 ELSE counters.count + {m} END, "
            f"reset_at = CASE WHEN counters.reset_at <= {m} THEN excluded.reset_at"
            " ELSE counters.reset_at END "
            "RETURNING count, reset_at",
            (key, max(amount, 0), now + window, now, amount, amount, now),
        )
        assert row is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
        return Counter(count=row[0], reset_at=row[1])

    def purge_expired(self, before: float) -> int:
        """See :meth:`Storage.purge_expired`: one ``DELETE`` per table, each committed on its
        own (short write locks; instances purging together each delete a row at most once)."""
        m = self.mark
        purged = sum(
            self._count(f"DELETE FROM {table} WHERE {column} < {m}", (before,))
            for table, column in _EXPIRY_COLUMNS
        )
        # The change log keeps its newest entries (instances read it every few milliseconds).
        self._count(
            "DELETE FROM grant_changes WHERE seq <="
            f" (SELECT COALESCE(MAX(seq), 0) FROM grant_changes) - {m}",
            (KEPT_CHANGES,),
        )
        return purged

    def get_value(self, namespace: str, key: str) -> str | None:
        """See :meth:`Storage.get_value`."""
        m = self.mark
        row = self._one(
            f"SELECT value FROM kv WHERE namespace = {m} AND key = {m}", (namespace, key)
        )
        return None if row is None else str(row[0])

    def put_value(self, namespace: str, key: str, value: str, *, replace: bool = True) -> bool:
        """See :meth:`Storage.put_value`."""
        m = self.mark
        action = "DO UPDATE SET value = excluded.value" if replace else "DO NOTHING"
        sql = (
            f"INSERT INTO kv (namespace, key, value) VALUES ({m}, {m}, {m})"
            f" ON CONFLICT (namespace, key) {action}"
        )
        return self._count(sql, (namespace, key, value)) == 1

    # -- statements -------------------------------------------------------------------------

    def _insert(
        self, table: str, record: DeviceGrant | RefreshRecord, suffix: str = ""
    ) -> Statement:
        row = encode_row(dataclasses.asdict(record))
        marks = ", ".join(self.mark for _ in row)
        return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks}){suffix}", (
            tuple(row.values())
        )

    def _select(
        self, table: str, fields: tuple[str, ...], column: str, value: object
    ) -> dict[str, Any] | None:
        found = self._one(
            f"SELECT {', '.join(fields)} FROM {table} WHERE {column} = {self.mark}", (value,)
        )
        return None if found is None else decode_row(dict(zip(fields, found, strict=True)))

    def _update(
        self,
        table: str,
        key_column: str,
        key: str,
        expect: Mapping[str, object],
        changes: Mapping[str, object],
    ) -> Statement:
        check_columns([*expect, *changes], _COLUMNS[table])
        if not changes:
            raise ValueError("nothing to update")
        m = self.mark
        sets = ", ".join(f"{name} = {m}" for name in changes)
        wheres = "".join(f" AND {name} {self.same} {m}" for name in expect)
        params = [*encode_row(changes).values(), key, *encode_row(expect).values()]
        return f"UPDATE {table} SET {sets} WHERE {key_column} = {m}{wheres}", params
