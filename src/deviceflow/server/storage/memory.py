"""In-process storage for tests and throwaway servers; one lock makes every method atomic."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import TypeVar

from deviceflow.server.grant.on_time import accepts_pending_poll
from deviceflow.server.storage.base import (
    CHANGES_READ,
    CLIENT_COLUMNS,
    GRANT_COLUMNS,
    KEPT_CHANGES,
    REFRESH_COLUMNS,
    USER_COLUMNS,
    Counter,
    DeviceGrant,
    PendingPoll,
    PollTerms,
    RefreshRecord,
    StoredClient,
    StoredUser,
    check_columns,
    logs_change,
)

_Row = TypeVar("_Row", DeviceGrant, RefreshRecord, StoredUser, StoredClient)


def _names(user: StoredUser) -> tuple[str, ...]:
    return (user.username.lower(), (user.mail or "").lower())


class MemoryStorage:
    """A :class:`~deviceflow.server.storage.base.Storage` kept in dictionaries (lost on exit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, DeviceGrant] = {}
        self._by_user: dict[str, str] = {}
        self._refresh: dict[str, RefreshRecord] = {}
        self._counters: dict[str, Counter] = {}
        self._values: dict[tuple[str, str], str] = {}
        self._users: dict[str, StoredUser] = {}
        self._clients: dict[str, StoredClient] = {}
        self._changes: list[str] = []
        """The grant change log: digests; the newest is number ``_changed``."""
        self._changed = 0

    def insert_grant(self, grant: DeviceGrant) -> bool:
        """See :meth:`Storage.insert_grant`."""
        with self._lock:
            holder = self._grants.get(self._by_user.get(grant.user_hash, ""))
            if holder is not None:
                if holder.expires_at > grant.created_at:
                    return False
                del self._grants[holder.device_hash]
            if grant.device_hash in self._grants:
                return False
            self._grants[grant.device_hash] = grant
            self._by_user[grant.user_hash] = grant.device_hash
            return True

    def find_grant(
        self, *, device_hash: str | None = None, user_hash: str | None = None
    ) -> DeviceGrant | None:
        """See :meth:`Storage.find_grant`."""
        with self._lock:
            if device_hash is None:
                device_hash = self._by_user.get(user_hash or "", "")
            return self._grants.get(device_hash)

    def update_grant(
        self, device_hash: str, expect: Mapping[str, object], changes: Mapping[str, object]
    ) -> bool:
        """See :meth:`Storage.update_grant` (a change that may end a pending grant is logged:
        :class:`~deviceflow.server.storage.base.GrantChanges`)."""
        won = self._compare_and_set(self._grants, GRANT_COLUMNS, device_hash, expect, changes)
        if logs_change(expect, changes):
            with self._lock:
                self._changes.append(device_hash)
                self._changed += 1
                del self._changes[:-KEPT_CHANGES]
        return won

    def grant_changes(self, after: int | None) -> tuple[int, tuple[str, ...] | None]:
        """See :meth:`GrantChanges.grant_changes <deviceflow.server.storage.base.GrantChanges.
        grant_changes>`."""
        with self._lock:
            newest = self._changed
            if after is None:
                return newest, ()
            first = newest - len(self._changes) + 1  # the number of the oldest one kept
            if after + 1 < first:
                return newest, None
            found = self._changes[after + 1 - first :][:CHANGES_READ]
            return after + len(found), tuple(found)

    def record_poll(self, poll: PendingPoll) -> PollTerms | None:
        """See :meth:`Storage.record_poll`."""
        with self._lock:
            grant = self._grants.get(poll.device_hash)
            if grant is None or not accepts_pending_poll(grant, poll):
                return None
            if poll.leeway is not None:  # with an interval rule, the poll is recorded
                self._grants[poll.device_hash] = dataclasses.replace(grant, last_poll_at=poll.now)
            return PollTerms(grant.expires_at, grant.interval)

    def insert_refresh(self, record: RefreshRecord) -> None:
        """See :meth:`Storage.insert_refresh`."""
        with self._lock:
            self._refresh[record.token_hash] = record

    def find_refresh(self, token_hash: str) -> RefreshRecord | None:
        """See :meth:`Storage.find_refresh`."""
        with self._lock:
            return self._refresh.get(token_hash)

    def update_refresh(
        self, token_hash: str, expect: Mapping[str, object], changes: Mapping[str, object]
    ) -> bool:
        """See :meth:`Storage.update_refresh`."""
        return self._compare_and_set(self._refresh, REFRESH_COLUMNS, token_hash, expect, changes)

    def _compare_and_set(
        self,
        rows: dict[str, _Row],
        columns: frozenset[str],
        key: str,
        expect: Mapping[str, object],
        changes: Mapping[str, object],
    ) -> bool:
        check_columns([*expect, *changes], columns)
        with self._lock:
            row = rows.get(key)
            if row is None or any(getattr(row, k) != v for k, v in expect.items()):
                return False
            rows[key] = dataclasses.replace(row, **changes)  # type: ignore[arg-type]
            return True

    def hit(self, key: str, *, now: float, window: float, amount: int = 1) -> Counter:
        """See :meth:`Storage.hit`."""
        with self._lock:
            counter = self._counters.get(key)
            if counter is None or counter.reset_at <= now:
                counter = Counter(count=0, reset_at=now + window)
            counter = Counter(count=max(0, counter.count + amount), reset_at=counter.reset_at)
            if amount:
                self._counters[key] = counter
            return counter

    def purge_expired(self, before: float) -> int:
        """See :meth:`Storage.purge_expired`."""
        with self._lock:
            grants = [g for g in self._grants.values() if g.expires_at < before]
            for grant in grants:
                del self._grants[grant.device_hash]
                if self._by_user.get(grant.user_hash) == grant.device_hash:
                    del self._by_user[grant.user_hash]
            refresh = [k for k, r in self._refresh.items() if r.expires_at < before]
            for key in refresh:
                del self._refresh[key]
            counters = [k for k, c in self._counters.items() if c.reset_at < before]
            for key in counters:
                del self._counters[key]
            return len(grants) + len(refresh) + len(counters)

    def get_value(self, namespace: str, key: str) -> str | None:
        """See :meth:`Storage.get_value`."""
        with self._lock:
            return self._values.get((namespace, key))

    def put_value(self, namespace: str, key: str, value: str, *, replace: bool = True) -> bool:
        """See :meth:`Storage.put_value`."""
        with self._lock:
            if not replace and (namespace, key) in self._values:
                return False
            self._values[(namespace, key)] = value
            return True

    def count_pending(self, now: float) -> int:
        """See :meth:`Storage.count_pending`."""
        with self._lock:
            grants = list(self._grants.values())
        return sum(1 for g in grants if g.status == "pending" and g.expires_at > now)

    def check(self) -> str | None:
        """See :meth:`Storage.check`: memory always answers."""
        return None

    # -- the directory ----------------------------------------------------------------------

    def insert_user(self, user: StoredUser) -> bool:
        """See :meth:`Directory.insert_user`."""
        with self._lock:
            key = (user.tenant_id, user.username.lower())
            taken = any((u.tenant_id, u.username.lower()) == key for u in self._users.values())
            if taken or user.id in self._users:
                return False
            self._users[user.id] = user
            return True

    def find_users(self, name: str, tenant_id: str | None = None) -> list[StoredUser]:
        """See :meth:`Directory.find_users`."""
        wanted = name.strip().lower()
        with self._lock:
            found = [
                u
                for u in self._users.values()
                if wanted in _names(u) and tenant_id in (None, u.tenant_id)
            ]
        return sorted(found, key=lambda u: u.tenant_id)

    def find_user_by_id(self, user_id: str) -> StoredUser | None:
        """See :meth:`Directory.find_user_by_id`."""
        with self._lock:
            return self._users.get(user_id)

    def list_users(self, tenant_id: str) -> list[StoredUser]:
        """See :meth:`Directory.list_users`."""
        with self._lock:
            found = [u for u in self._users.values() if u.tenant_id == tenant_id]
        return sorted(found, key=lambda u: u.username.lower())

    def update_user(self, user_id: str, changes: Mapping[str, object]) -> bool:
        """See :meth:`Directory.update_user`."""
        return self._compare_and_set(self._users, USER_COLUMNS, user_id, {}, changes)

    def delete_user(self, user_id: str) -> bool:
        """See :meth:`Directory.delete_user`."""
        with self._lock:
            return self._users.pop(user_id, None) is not None

    def insert_client(self, client: StoredClient) -> bool:
        """See :meth:`Directory.insert_client`."""
        with self._lock:
            if client.client_id in self._clients:
                return False
            self._clients[client.client_id] = client
            return True

    def find_client(self, client_id: str) -> StoredClient | None:
        """See :meth:`Directory.find_client`."""
        with self._lock:
            return self._clients.get(client_id)

    def list_clients(self, tenant_id: str) -> list[StoredClient]:
        """See :meth:`Directory.list_clients`."""
        with self._lock:
            found = [c for c in self._clients.values() if c.tenant_id == tenant_id]
        return sorted(found, key=lambda c: c.client_id)

    def update_client(self, client_id: str, changes: Mapping[str, object]) -> bool:
        """See :meth:`Directory.update_client`."""
        return self._compare_and_set(self._clients, CLIENT_COLUMNS, client_id, {}, changes)

    def delete_client(self, client_id: str) -> bool:
        """See :meth:`Directory.delete_client`."""
        with self._lock:
            return self._clients.pop(client_id, None) is not None

    def refresh_of_user(self, user_id: str, *, now: float) -> list[RefreshRecord]:
        """See :meth:`Directory.refresh_of_user`."""
        with self._lock:
            found = [
                r for r in self._refresh.values() if r.user_id == user_id and r.expires_at > now
            ]
        return sorted(found, key=lambda r: r.issued_at)

    def close(self) -> None:
        """Nothing to release."""
