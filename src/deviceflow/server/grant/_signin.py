"""Password sign-in: the one authentication every password form of the server goes through.

Theory of operation. A sign-in names a tenant (the device-login page: the tenant of the code
being approved) or none (the presence page: a user of any tenant). The users it could mean are
looked up first. Then the attempt is counted, just before its hashing, against the account (each
user it could mean, by object id, so every form and every spelling of the name share one
counter; a name that means nobody is counted by itself, so it behaves like an account) and
against the client address (an IPv6 client's /64). Counting is one atomic statement that
returns the attempt's number (:meth:`RateLimiter.admit`), so instances sharing a database admit
exactly the limit between them. Past either limit the sign-in is refused until the window ends,
even with the right password, and nothing is hashed.

Hashing is the expensive part (argon2id with 64 MiB of memory per check): the pages' sign-ins
(:meth:`PasswordSignIn.aauthenticate`) hash in worker threads, at most ``sign_in_checks`` at
once; up to ``sign_in_queue`` more wait their turn, and any beyond are refused at once as
``busy`` (counted nowhere), so a flood of sign-ins holds a few checks' worth of memory and
leaves the event loop free for token polls. A sign-in is counted when its turn comes, not while
it waits: a count includes at most ``sign_in_checks`` attempts per process whose outcome is not
known yet, so many right passwords of one account at once are not taken for guessing.

An admitted attempt runs exactly one argon2 verification per candidate, and one against a dummy
hash when there is none, so an unknown name costs what a known one costs (no username probing by
timing). A right password takes its attempt back (only wrong passwords use up the limits; it
does not reset them either). The outcome is audited with the username only when it names a user
(a name that matches nobody may be a password typed into the wrong field: it is logged as a
keyed fingerprint).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Literal

import anyio.to_thread

from deviceflow.server.grant._services import Services
from deviceflow.server.security import Attempt, Bucket, address_key, fingerprint, verify_password
from deviceflow.server.settings import Tenant, UserRecord

__all__ = ["PasswordSignIn", "SignInError", "SignInRefusal"]

SignInRefusal = Literal["account_locked", "address_locked", "busy"]


class SignInError(Exception):
    """A sign-in refused before its password was checked.

    ``kind`` says why: ``account_locked`` (too many wrong passwords for the account),
    ``address_locked`` (too many from the client's address) or ``busy`` (too many sign-ins
    waiting for a password check: try again shortly); ``retry_after`` is the number of seconds
    until it may try again.
    """

    def __init__(self, kind: SignInRefusal, *, retry_after: int) -> None:
        super().__init__(kind)
        self.kind: SignInRefusal = kind
        self.retry_after = retry_after


class PasswordSignIn:
    """Checks passwords for the pages (``GrantEngine.sign_in``)."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._gate = _HashGate()

    def authenticate(
        self, *, tenant: Tenant | None, username: str, password: str, ip: str
    ) -> UserRecord | None:
        """The enabled user (of ``tenant``, or of any tenant) with this name and password.

        The hashing runs on the calling thread, outside the bound on checks at once (for
        callers that bound their own concurrency): the pages use :meth:`aauthenticate`.

        Raises:
            SignInError: the account or the address ``ip`` has had too many wrong passwords;
                nothing was checked.
        """
        candidates, attempts = self._admit(tenant, username, ip)
        user = _check(candidates, password)
        return self._finish(tenant, username, ip, candidates, attempts, user)

    async def aauthenticate(
        self, *, tenant: Tenant | None, username: str, password: str, ip: str
    ) -> UserRecord | None:
        """:meth:`authenticate` with the hashing in a worker thread (the event loop stays free),
        at most ``sign_in_checks`` at once.

        Raises:
            SignInError: as :meth:`authenticate`; or ``busy`` when ``sign_in_queue`` sign-ins
                already wait for a check (this one is not counted).
        """
        limits = self._s.settings().rate_limits
        gate, checks = self._gate, limits.sign_in_checks
        if gate.is_full(checks, limits.sign_in_queue):
            self._s.audit.event("sign_in", result=False, refused="busy", ip=ip)
            raise SignInError("busy", retry_after=_BUSY_RETRY)
        # No await between the check above and the gate taking its place: the two are one step
        # of the event loop.
        async with gate.turn(checks):
            # Counted once this check may run: a sign-in waiting its turn holds no place in the
            # account's or the address's limit (an office's sign-ins may queue up together),
            # while every password that is checked was counted first.
            candidates, attempts = self._admit(tenant, username, ip)
            user = await anyio.to_thread.run_sync(_check, candidates, password)
        return self._finish(tenant, username, ip, candidates, attempts, user)

    def _admit(
        self, tenant: Tenant | None, username: str, ip: str
    ) -> tuple[tuple[UserRecord, ...], list[Attempt]]:
        """The users ``username`` may mean, and the attempt counted against them and ``ip``.

        Raises:
            SignInError: a limit is reached (the attempts that were admitted are taken back).
        """
        settings = self._s.settings()
        candidates = self._s.accounts.users_named(tenant, username)
        limits, limiter = settings.rate_limits, self._s.limiter
        accounts = [user.id for user in candidates] or [
            "name:" + self._s.hasher().digest("username", username.strip().lower())
        ]
        per_account = Bucket("password_account", limits.sign_in_failures, limits.sign_in_window)
        per_address = Bucket(
            "password_address", limits.sign_in_address_failures, limits.sign_in_window
        )
        attempts = [limiter.admit(per_account, account) for account in accounts]
        attempts.append(limiter.admit(per_address, address_key(ip)))
        refused = [a for a in attempts if a.refused]
        if not refused:
            return candidates, attempts
        for attempt in attempts:
            if not attempt.refused:
                limiter.refund(attempt)
        kind: SignInRefusal = (
            "account_locked" if refused[0].bucket is per_account else "address_locked"
        )
        self._s.audit.event(
            "sign_in", tenant=_tenant_of(tenant), username=self._shown(candidates, username),
            result=False, refused=kind, ip=ip,
        )  # fmt: skip
        raise SignInError(kind, retry_after=max(a.retry_after or 1 for a in refused))

    def _finish(
        self,
        tenant: Tenant | None,
        username: str,
        ip: str,
        candidates: tuple[UserRecord, ...],
        attempts: list[Attempt],
        user: UserRecord | None,
    ) -> UserRecord | None:
        shown = self._shown(candidates, username)
        where = user.tenant if user else _tenant_of(tenant)
        self._s.audit.event("sign_in", tenant=where, username=shown, result=user is not None)
        if user is not None:
            for attempt in attempts:
                self._s.limiter.refund(attempt)
        elif any(attempt.is_last for attempt in attempts):
            locked = [a.bucket.prefix for a in attempts if a.is_last]
            self._s.audit.event("password_lockout", username=shown, ip=ip, limits=locked)
        return user

    def _shown(self, candidates: tuple[UserRecord, ...], username: str) -> str:
        # A name that matches no user may be a password typed into the wrong field: only known
        # usernames reach the audit log as they are, anything else as a keyed fingerprint.
        if candidates:
            return candidates[0].username
        return "unknown:" + fingerprint(self._s.hasher().digest("username", username))


_BUSY_RETRY = 5
"""Seconds a sign-in refused as ``busy`` is told to wait."""


class _HashGate:
    """Turns for password checks, ``checks`` at once; counts the sign-ins holding or awaiting
    one. Used from one event loop (the app's), so a plain counter is enough."""

    def __init__(self) -> None:
        self._limiter: anyio.CapacityLimiter | None = None
        self._taken = 0

    def is_full(self, checks: int, queue: int) -> bool:
        """Whether ``checks`` running and ``queue`` waiting are all taken."""
        return self._taken >= checks + queue

    @contextlib.asynccontextmanager
    async def turn(self, checks: int) -> AsyncIterator[None]:
        """Wait until fewer than ``checks`` others hold a turn; hold one for the block."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(checks)
        elif self._limiter.total_tokens != checks:  # the settings were replaced
            self._limiter.total_tokens = checks
        self._taken += 1
        try:
            async with self._limiter:
                yield
        finally:
            self._taken -= 1


def _tenant_of(tenant: Tenant | None) -> str:
    return tenant.id if tenant else "*"


def _check(candidates: tuple[UserRecord, ...], password: str) -> UserRecord | None:
    """The first enabled candidate whose hash ``password`` matches (a dummy check for none)."""
    if not candidates:
        verify_password(None, password)
        return None
    for user in candidates:
        if verify_password(user.password_hash, password) and user.enabled:
            return user
    return None
