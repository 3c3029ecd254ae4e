"""What ``deviceflow admin`` does to users, clients and sessions, without its command line.

Every change is checked first and written in one statement, so a refused change leaves nothing
behind; each one is audited (``deviceflow.audit``: ``admin_user_added`` ... with who ran it).
The configuration file wins over the database (:mod:`deviceflow.server.grant._accounts`), so a
user or client the file defines can be neither created in the database nor changed here: the
refusal says to edit the file. Passwords and client secrets are stored as argon2 hashes only.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from deviceflow.cli.errors import EXIT_USAGE
from deviceflow.server.audit import AuditLog
from deviceflow.server.grant import GrantEngine
from deviceflow.server.grant._accounts import client_of
from deviceflow.server.grant._sessions import DeviceSession
from deviceflow.server.security import hash_password
from deviceflow.server.settings import Client, Settings, Tenant, UserRecord
from deviceflow.server.storage.base import Directory, Storage, StoredClient, StoredUser

__all__ = ["AdminError", "Administration"]

MIN_PASSWORD_CHARS = 8


class AdminError(Exception):
    """An admin command that cannot be done: a bad argument, a name that is not found, one that
    exists already or that the configuration file defines. All exit with the CLI's usage code
    (2, :data:`deviceflow.cli.errors.EXIT_USAGE`); the message says which."""

    def __init__(self, message: str, *, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _not_found(what: str) -> AdminError:
    return AdminError(f"{what} not found")


def check_password(password: str) -> str:
    """``password`` when acceptable.

    Raises:
        AdminError: shorter than :data:`MIN_PASSWORD_CHARS` characters.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise AdminError(
            f"the password must have at least {MIN_PASSWORD_CHARS} characters",
        )
    return password


def user_view(user: StoredUser | UserRecord) -> dict[str, Any]:
    """A user as ``--json`` prints it (never its password hash)."""
    if isinstance(user, UserRecord):
        return {
            "id": user.id, "tenant": user.tenant, "username": user.username,
            "display_name": user.display_name, "mail": user.mail, "enabled": user.enabled,
            "source": "config",
        }  # fmt: skip
    return {
        "id": user.id, "tenant": user.tenant_id, "username": user.username,
        "display_name": user.display_name, "mail": user.mail, "enabled": user.enabled,
        "created_at": user.created_at, "updated_at": user.updated_at, "source": "database",
    }  # fmt: skip


def client_view(client: Client, *, enabled: bool = True, source: str) -> dict[str, Any]:
    """A client as ``--json`` prints it (never its secret hash)."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "public": client.public,
        "scopes": list(client.scopes),
        "tenants": list(client.tenants) if client.tenants is not None else None,
        "enabled": enabled,
        "source": source,
    }


def session_view(session: DeviceSession) -> dict[str, Any]:
    """A device session as ``--json`` prints it."""
    return dataclasses.asdict(session)


class Administration:
    """The admin operations on one storage (with its directory) and one configuration."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        *,
        clock: Callable[[], float],
        actor: str,
        audit: AuditLog | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._actor = actor
        self._audit = audit or AuditLog()
        self._engine = GrantEngine(
            settings, storage=storage, clock=clock, rng=secrets.token_bytes, audit=self._audit
        )
        store = self._engine.accounts.store
        if store is None:
            raise AdminError("this storage keeps no users or clients")
        self._store: Directory = store

    def tenant(self, name: str | None) -> Tenant:
        """The tenant named ``name`` (any of its names), else the first one.

        Raises:
            AdminError: no such tenant.
        """
        if not name:
            return self._settings.tenants[0]
        tenant = self._settings.resolve_tenant(name)
        if tenant is None:
            known = ", ".join(t.id for t in self._settings.tenants)
            raise AdminError(f"tenant {name!r} not found (tenants: {known})")
        return tenant

    def _event(self, name: str, **fields: object) -> None:
        self._audit.event(name, by=self._actor, **fields)

    # -- users ------------------------------------------------------------------------------

    def add_user(
        self,
        tenant: Tenant,
        username: str,
        password: str,
        *,
        display_name: str = "",
        mail: str | None = None,
    ) -> StoredUser:
        """Create a database user.

        Raises:
            AdminError: an empty or spaced name, a short password; the name (or mail) is
                taken, in the database or in the configuration file.
        """
        username = username.strip()
        if not username or any(ch.isspace() for ch in username):
            raise AdminError("a username is one word, without spaces")
        for name in (username, mail):
            if name and self._settings.user(tenant, name) is not None:
                raise AdminError(
                    f"{name!r} is a user of the configuration file in tenant {tenant.id!r};"
                    " the file wins, so edit it there",
                )
        now = self._clock()
        user = StoredUser(
            id=str(uuid.uuid4()), tenant_id=tenant.id, username=username,
            password_hash=hash_password(check_password(password)),
            display_name=display_name.strip() or username, mail=mail or None,
            enabled=True, created_at=now, updated_at=now,
        )  # fmt: skip
        clash = [u for u in self._store.find_users(username, tenant.id)]
        if mail:
            clash += self._store.find_users(mail, tenant.id)
        if clash or not self._store.insert_user(user):
            raise AdminError(f"user {username!r} already exists in {tenant.id!r}")
        self._event("admin_user_added", tenant=tenant.id, username=username, user_id=user.id)
        return user

    def users(self, tenant: Tenant) -> list[dict[str, Any]]:
        """Every user of ``tenant``: the configuration file's, then the database's."""
        configured = [user_view(u) for u in self._settings.users if u.tenant == tenant.id]
        return configured + [user_view(u) for u in self._store.list_users(tenant.id)]

    def user(self, tenant: Tenant, username: str) -> StoredUser:
        """The database user ``username`` (or mail) of ``tenant``.

        Raises:
            AdminError: a user of the configuration file; no such user.
        """
        if self._settings.user(tenant, username) is not None:
            raise AdminError(
                f"{username!r} is a user of the configuration file; edit the file to change it",
            )
        found = self._store.find_users(username, tenant.id)
        if not found:
            raise _not_found(f"user {username!r} in tenant {tenant.id!r}")
        return found[0]

    def show_user(self, tenant: Tenant, username: str) -> dict[str, Any]:
        """A user of either source, as ``--json`` prints it.

        Raises:
            AdminError: no such user.
        """
        configured = self._settings.user(tenant, username)
        if configured is not None:
            return user_view(configured)
        return user_view(self.user(tenant, username))

    def set_enabled(self, tenant: Tenant, username: str, enabled: bool) -> StoredUser:
        """Enable or disable a database user (a disabled one can neither sign in nor refresh).

        Raises:
            AdminError: as :meth:`user`.
        """
        user = self.user(tenant, username)
        self._store.update_user(user.id, {"enabled": enabled, "updated_at": self._clock()})
        name = "admin_user_enabled" if enabled else "admin_user_disabled"
        self._event(name, tenant=tenant.id, username=user.username, user_id=user.id)
        return dataclasses.replace(user, enabled=enabled)

    def set_password(self, tenant: Tenant, username: str, password: str) -> None:
        """Replace a database user's password.

        Raises:
            AdminError: as :meth:`user`; a short password.
        """
        user = self.user(tenant, username)
        digest = hash_password(check_password(password))
        self._store.update_user(user.id, {"password_hash": digest, "updated_at": self._clock()})
        self._event(
            "admin_user_password_set", tenant=tenant.id, username=user.username, user_id=user.id
        )

    def delete_user(self, tenant: Tenant, username: str) -> None:
        """Delete a database user (its devices' next refreshes are refused).

        Raises:
            AdminError: as :meth:`user`.
        """
        user = self.user(tenant, username)
        self._store.delete_user(user.id)
        self._event("admin_user_deleted", tenant=tenant.id, username=user.username, user_id=user.id)

    # -- clients ----------------------------------------------------------------------------

    def add_client(
        self,
        tenant: Tenant,
        name: str,
        *,
        client_id: str | None = None,
        confidential: bool = False,
        scopes: tuple[str, ...] = (),
    ) -> tuple[StoredClient, str | None]:
        """Create a database client of ``tenant``; a confidential one gets a new secret.

        Returns:
            The client, and its secret (``None`` for a public client): shown once, kept nowhere.

        Raises:
            AdminError: an empty name or a spaced id; the id is taken, in the database
                or in the configuration file.
        """
        client_id = (client_id or str(uuid.uuid4())).strip()
        if not name.strip() or not client_id or any(ch.isspace() for ch in client_id):
            raise AdminError("a client needs a name and a client id without spaces")
        if self._settings.client(client_id) is not None:
            raise AdminError(
                f"client {client_id!r} is defined in the configuration file; the file wins",
            )
        secret = secrets.token_urlsafe(32) if confidential else None
        client = StoredClient(
            client_id=client_id, tenant_id=tenant.id, name=name.strip(),
            public=not confidential, secret_hash=hash_password(secret) if secret else "",
            scopes=scopes or Client(client_id=client_id).scopes,
            enabled=True, created_at=self._clock(),
        )  # fmt: skip
        if not self._store.insert_client(client):
            raise AdminError(f"client {client_id!r} already exists")
        self._event(
            "admin_client_added", tenant=tenant.id, client_id=client_id, public=client.public
        )
        return client, secret

    def clients(self, tenant: Tenant) -> list[dict[str, Any]]:
        """Every client ``tenant`` may use: the configuration file's, then the database's."""
        configured = [
            client_view(c, source="config")
            for c in self._settings.clients
            if c.tenants is None or tenant.id in c.tenants
        ]
        stored = [
            client_view(client_of(c), enabled=c.enabled, source="database")
            for c in self._store.list_clients(tenant.id)
        ]
        return configured + stored

    def _client(self, tenant: Tenant, client_id: str) -> StoredClient:
        if self._settings.client(client_id) is not None:
            raise AdminError(
                f"client {client_id!r} is defined in the configuration file; edit the file",
            )
        found = self._store.find_client(client_id)
        if found is None or found.tenant_id != tenant.id:
            raise _not_found(f"client {client_id!r} in tenant {tenant.id!r}")
        return found

    def disable_client(self, tenant: Tenant, client_id: str) -> None:
        """Disable a database client: it is unknown to every endpoint from now on.

        Raises:
            AdminError: a client of the configuration file; no such client.
        """
        self._client(tenant, client_id)
        self._store.update_client(client_id, {"enabled": False})
        self._event("admin_client_disabled", tenant=tenant.id, client_id=client_id)

    def delete_client(self, tenant: Tenant, client_id: str) -> None:
        """Delete a database client.

        Raises:
            AdminError: as :meth:`disable_client`.
        """
        self._client(tenant, client_id)
        self._store.delete_client(client_id)
        self._event("admin_client_deleted", tenant=tenant.id, client_id=client_id)

    # -- sessions ---------------------------------------------------------------------------

    def _any_user(self, tenant: Tenant, username: str) -> UserRecord:
        found = self._engine.accounts.users_named(tenant, username)
        if not found:
            raise _not_found(f"user {username!r} in tenant {tenant.id!r}")
        return found[0]

    def sessions(self, tenant: Tenant, username: str) -> list[DeviceSession]:
        """The live device sessions of a user (of either source).

        Raises:
            AdminError: no such user.
        """
        return self._engine.sessions.of_user(self._any_user(tenant, username).id)

    def revoke_session(self, tenant: Tenant, username: str, session_id: str) -> None:
        """Revoke one device session of a user (audited as the admin's).

        Raises:
            AdminError: no such user, or no such live session of theirs.
        """
        user = self._any_user(tenant, username)
        if not self._engine.sessions.revoke(user.id, session_id, by=f"admin:{self._actor}"):
            raise _not_found(f"session {session_id!r} of {username!r}")
