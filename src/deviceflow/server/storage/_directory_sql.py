"""The SQL of :class:`~deviceflow.server.storage.base.Directory`, shared by SQLite and PostgreSQL.

Users and clients are two plain tables (``migrations/0003``). Names are matched through their
lower-cased copies (``username_key``, ``mail_key``), kept beside them on every write, so a lookup
is one indexed equality in both databases. Booleans are stored as 0/1 integers and scopes as one
space-separated string (:func:`~deviceflow.server.storage._sql.encode_row`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from deviceflow.server.storage._sql import Params, decode_row, encode_row
from deviceflow.server.storage.base import (
    CLIENT_COLUMNS,
    USER_COLUMNS,
    RefreshRecord,
    StoredClient,
    StoredUser,
    check_columns,
)

_USER_FIELDS = tuple(StoredUser.__dataclass_fields__)
_CLIENT_FIELDS = tuple(StoredClient.__dataclass_fields__)
_REFRESH_FIELDS = tuple(RefreshRecord.__dataclass_fields__)
_BOOLEANS = frozenset({"enabled", "public"})


def _key(text: str | None) -> str | None:
    return None if text is None else text.strip().lower()


def _encode(values: Mapping[str, object]) -> dict[str, object]:
    row = encode_row(values)
    for name in _BOOLEANS & row.keys():
        row[name] = int(bool(row[name]))
    if "username" in row:
        row["username_key"] = _key(str(row["username"]))
    if "mail" in row:
        row["mail_key"] = _key(row["mail"])  # type: ignore[arg-type]
    return row


def _decode(fields: tuple[str, ...], found: Sequence[Any]) -> dict[str, Any]:
    row = decode_row(dict(zip(fields, found, strict=True)))
    for name in _BOOLEANS & row.keys():
        row[name] = bool(row[name])
    return row


class DirectorySQL:
    """The :class:`~deviceflow.server.storage.base.Directory` methods over a SQL store's
    ``_count`` and ``_rows`` (mixed into :class:`~._sql.SQLStore`)."""

    mark: ClassVar[str]

    if TYPE_CHECKING:  # the backend's (see SQLStore)

        def _count(self, sql: str, params: Params) -> int: ...

        def _rows(self, sql: str, params: Params) -> list[tuple[Any, ...]]: ...

    def _add(self, table: str, record: StoredUser | StoredClient) -> bool:
        row = _encode(dataclasses.asdict(record))
        marks = ", ".join(self.mark for _ in row)
        sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        return self._count(sql, tuple(row.values())) == 1

    def _change(
        self,
        table: str,
        key: tuple[str, str],
        allowed: frozenset[str],
        changes: Mapping[str, object],
    ) -> bool:
        check_columns(changes, allowed)
        if not changes:
            raise ValueError("nothing to update")
        row = _encode(changes)
        sets = ", ".join(f"{name} = {self.mark}" for name in row)
        sql = f"UPDATE {table} SET {sets} WHERE {key[0]} = {self.mark}"
        return self._count(sql, (*row.values(), key[1])) == 1

    def _users(self, where: str, params: Params) -> list[StoredUser]:
        sql = f"SELECT {', '.join(_USER_FIELDS)} FROM users WHERE {where}"
        return [StoredUser(**_decode(_USER_FIELDS, r)) for r in self._rows(sql, params)]

    # -- users ------------------------------------------------------------------------------

    def insert_user(self, user: StoredUser) -> bool:
        """See :meth:`Directory.insert_user`."""
        return self._add("users", user)

    def find_users(self, name: str, tenant_id: str | None = None) -> list[StoredUser]:
        """See :meth:`Directory.find_users`."""
        m, key = self.mark, _key(name)
        where = f"(username_key = {m} OR mail_key = {m})"
        if tenant_id is None:
            return self._users(where + " ORDER BY tenant_id", (key, key))
        return self._users(f"tenant_id = {m} AND {where}", (tenant_id, key, key))

    def find_user_by_id(self, user_id: str) -> StoredUser | None:
        """See :meth:`Directory.find_user_by_id`."""
        found = self._users(f"id = {self.mark}", (user_id,))
        return found[0] if found else None

    def list_users(self, tenant_id: str) -> list[StoredUser]:
        """See :meth:`Directory.list_users`."""
        return self._users(f"tenant_id = {self.mark} ORDER BY username_key", (tenant_id,))

    def update_user(self, user_id: str, changes: Mapping[str, object]) -> bool:
        """See :meth:`Directory.update_user`."""
        return self._change("users", ("id", user_id), USER_COLUMNS, changes)

    def delete_user(self, user_id: str) -> bool:
        """See :meth:`Directory.delete_user`."""
        return self._count(f"DELETE FROM users WHERE id = {self.mark}", (user_id,)) == 1

    # -- clients ----------------------------------------------------------------------------

    def insert_client(self, client: StoredClient) -> bool:
        """See :meth:`Directory.insert_client`."""
        return self._add("clients", client)

    def _clients(self, where: str, params: Params) -> list[StoredClient]:
        sql = f"SELECT {', '.join(_CLIENT_FIELDS)} FROM clients WHERE {where}"
        return [StoredClient(**_decode(_CLIENT_FIELDS, r)) for r in self._rows(sql, params)]

    def find_client(self, client_id: str) -> StoredClient | None:
        """See :meth:`Directory.find_client`."""
        found = self._clients(f"client_id = {self.mark}", (client_id,))
        return found[0] if found else None

    def list_clients(self, tenant_id: str) -> list[StoredClient]:
        """See :meth:`Directory.list_clients`."""
        return self._clients(f"tenant_id = {self.mark} ORDER BY client_id", (tenant_id,))

    def update_client(self, client_id: str, changes: Mapping[str, object]) -> bool:
        """See :meth:`Directory.update_client`."""
        return self._change("clients", ("client_id", client_id), CLIENT_COLUMNS, changes)

    def delete_client(self, client_id: str) -> bool:
        """See :meth:`Directory.delete_client`."""
        sql = f"DELETE FROM clients WHERE client_id = {self.mark}"
        return self._count(sql, (client_id,)) == 1

    # -- sessions ---------------------------------------------------------------------------

    def refresh_of_user(self, user_id: str, *, now: float) -> list[RefreshRecord]:
        """See :meth:`Directory.refresh_of_user`."""
        m = self.mark
        sql = (
            f"SELECT {', '.join(_REFRESH_FIELDS)} FROM refresh_tokens"
            f" WHERE user_id = {m} AND expires_at > {m} ORDER BY issued_at"
        )
        rows = self._rows(sql, (user_id, now))
        return [
            RefreshRecord(**decode_row(dict(zip(_REFRESH_FIELDS, r, strict=True)))) for r in rows
        ]
