"""Password sign-in: the one authentication every password form of the server goes through.

Theory of operation. A sign-in names a tenant (the device-login page: the tenant of the code
being approved) or none (the presence page: a user of any tenant). The users it could mean are
looked up first; then exactly one argon2 verification runs per candidate, and one against a
dummy hash when there is none, so an unknown name costs what a known one costs (no username
probing by timing). The outcome is audited with the username only when it names a user (a name
that matches nobody may be a password typed into the wrong field: it is logged as a keyed
fingerprint).
"""

from __future__ import annotations

import anyio.to_thread

from deviceflow.server.grant._services import Services
from deviceflow.server.security import fingerprint, verify_password
from deviceflow.server.settings import Tenant, UserRecord

__all__ = ["PasswordSignIn"]


class PasswordSignIn:
    """Checks passwords for the pages (``GrantEngine.sign_in``)."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def _candidates(self, tenant: Tenant | None, username: str) -> tuple[UserRecord, ...]:
        """The users ``username`` may mean: of ``tenant``, or of every tenant in order."""
        settings = self._s.settings()
        tenants = settings.tenants if tenant is None else (tenant,)
        found = (settings.user(t, username) for t in tenants)
        return tuple(user for user in found if user is not None)

    def authenticate(
        self, *, tenant: Tenant | None, username: str, password: str
    ) -> UserRecord | None:
        """The enabled user (of ``tenant``, or of any tenant) with this name and password.

        Each candidate costs one argon2 verification, and no candidate costs one against a
        dummy hash. Runs the hashing on the calling thread: the pages use
        :meth:`aauthenticate`.
        """
        candidates = self._candidates(tenant, username)
        return self._audited(tenant, username, candidates, _check(candidates, password))

    async def aauthenticate(
        self, *, tenant: Tenant | None, username: str, password: str
    ) -> UserRecord | None:
        """:meth:`authenticate` with the hashing in a worker thread (the event loop stays free)."""
        candidates = self._candidates(tenant, username)
        user = await anyio.to_thread.run_sync(_check, candidates, password)
        return self._audited(tenant, username, candidates, user)

    def _audited(
        self,
        tenant: Tenant | None,
        username: str,
        candidates: tuple[UserRecord, ...],
        user: UserRecord | None,
    ) -> UserRecord | None:
        # A name that matches no user may be a password typed into the wrong field: only known
        # usernames reach the audit log as they are, anything else as a keyed fingerprint.
        shown = (
            candidates[0].username
            if candidates
            else "unknown:" + fingerprint(self._s.hasher().digest("username", username))
        )
        where = user.tenant if user else tenant.id if tenant else "*"
        self._s.audit.event("sign_in", tenant=where, username=shown, result=user is not None)
        return user


def _check(candidates: tuple[UserRecord, ...], password: str) -> UserRecord | None:
    """The first enabled candidate whose hash ``password`` matches (a dummy check for none)."""
    if not candidates:
        verify_password(None, password)
        return None
    for user in candidates:
        if verify_password(user.password_hash, password) and user.enabled:
            return user
    return None
