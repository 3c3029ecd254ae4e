"""Who may sign in and which applications exist: the configuration file's, then the database's.

Theory of operation. Users and clients come from two places: the ``[[users]]`` and ``[[clients]]``
of the configuration file (read at start, kept in memory) and the ``users`` and ``clients``
tables ``deviceflow admin`` writes (:class:`~deviceflow.server.storage.base.Directory`). The
file wins: a name it defines is looked up there first, with no query, and a database entry of
the same name is never reached (``deviceflow admin`` refuses to create one). Everything else is
read from the database at each use, so an administrator's change is seen by every instance at
once, without a restart: a sign-in, a device authorization, a refresh, a redemption.

The one exception is the pending poll (the hot path, one statement): the client a poll names is
remembered for :data:`POLL_CLIENT_TTL` seconds per process, so a device polling every few seconds
costs no extra query. A client disabled or deleted meanwhile keeps its pending polls answered
for at most that long; its redemption (and everything else) reads the database again.
"""

from __future__ import annotations

from collections.abc import Callable

from deviceflow.server.settings import Client, Settings, Tenant, UserRecord
from deviceflow.server.storage.base import (
    Directory,
    Storage,
    StoredClient,
    StoredUser,
    directory_of,
)

__all__ = ["POLL_CLIENT_TTL", "Accounts", "client_of", "user_of"]

POLL_CLIENT_TTL = 30.0
"""Seconds a pending poll may use a database client read earlier (see the module docstring):
longer than a poll interval, so that even a lone device's polls mostly cost no query. A stale
read can only prolong "pending" answers: redemption reads the database again."""
_CACHE_SIZE = 4096
"""Entries of the poll cache before it starts afresh (unknown ids are remembered too)."""


def user_of(stored: StoredUser) -> UserRecord:
    """A database user as the engine sees every user."""
    return UserRecord(
        username=stored.username,
        password_hash=stored.password_hash,
        display_name=stored.display_name or stored.username,
        mail=stored.mail,
        tenant=stored.tenant_id,
        id=stored.id,
        enabled=stored.enabled,
    )


def client_of(stored: StoredClient) -> Client:
    """A database client as the engine sees every client (of its one tenant)."""
    return Client(
        client_id=stored.client_id,
        name=stored.name,
        public=stored.public,
        secret_hash=stored.secret_hash,
        scopes=stored.scopes,
        tenants=(stored.tenant_id,),
    )


class Accounts:
    """Users and clients, wherever they are kept (``GrantEngine.accounts``)."""

    def __init__(
        self, settings: Callable[[], Settings], storage: Storage, clock: Callable[[], float]
    ) -> None:
        self._settings = settings
        self.store: Directory | None = directory_of(storage)
        """The database's users and clients (``None``: a storage without them)."""
        self._clock = clock
        self._polled: dict[str, tuple[float, Client | None]] = {}

    def client(self, client_id: str, *, for_poll: bool = False) -> Client | None:
        """The client ``client_id``: the configuration's, else an enabled one of the database.

        ``for_poll``: a pending poll's lookup, which may use a read at most
        :data:`POLL_CLIENT_TTL` seconds old (no query on most polls).
        """
        configured = self._settings().client(client_id)
        if configured is not None or self.store is None:
            return configured
        if not for_poll:
            return self._read_client(client_id)
        now = self._clock()
        seen = self._polled.get(client_id)
        if seen is not None and now - seen[0] < POLL_CLIENT_TTL:
            return seen[1]
        client = self._read_client(client_id)
        if len(self._polled) >= _CACHE_SIZE:
            self._polled.clear()
        self._polled[client_id] = (now, client)
        return client

    def _read_client(self, client_id: str) -> Client | None:
        assert self.store is not None
        stored = self.store.find_client(client_id)
        return client_of(stored) if stored is not None and stored.enabled else None

    def users_named(self, tenant: Tenant | None, username: str) -> tuple[UserRecord, ...]:
        """The users ``username`` may mean (username or mail, any case), of ``tenant`` or of
        every tenant: the configuration's first; a database user only where the configuration
        has none of that name in its tenant."""
        settings = self._settings()
        tenants = settings.tenants if tenant is None else (tenant,)
        found = [u for u in (settings.user(t, username) for t in tenants) if u is not None]
        if self.store is not None and username.strip():
            shadowed = {u.tenant for u in found}
            stored = self.store.find_users(username, None if tenant is None else tenant.id)
            known = {t.id for t in tenants}
            found += [
                user_of(s) for s in stored if s.tenant_id in known and s.tenant_id not in shadowed
            ]
        return tuple(found)

    def shadowed(self) -> list[str]:
        """The database's users and clients the configuration file hides (same name in the
        same tenant, same client id), described for a warning at start-up."""
        if self.store is None:
            return []
        settings = self._settings()
        found = [
            f"user {s.username!r} of tenant {s.tenant_id!r}"
            for user in settings.users
            for name in (user.username, user.mail)
            if name
            for s in self.store.find_users(name, user.tenant)
        ]
        found += [
            f"client {c.client_id!r}"
            for c in settings.clients
            if self.store.find_client(c.client_id) is not None
        ]
        return list(dict.fromkeys(found))

    def user_by_id(self, user_id: str) -> UserRecord | None:
        """The user with this object id: configured, else in the database."""
        configured = self._settings().user_by_id(user_id)
        if configured is not None or self.store is None or not user_id:
            return configured
        stored = self.store.find_user_by_id(user_id)
        return user_of(stored) if stored is not None else None
