"""The storage protocol: everything the grant engine keeps, behind a few small methods.

Backends (``memory``, ``sqlite``, ``postgresql``) all pass ``tests/contract``. Two rules
make several server instances behave as one: ``update_grant``/``update_refresh`` are
compare-and-set (the row changes only while every ``expect`` column still holds its expected
value, in one atomic statement), and ``hit`` counts atomically. ``record_poll`` is the hot path's
one statement: a pending poll that is on time is recorded without reading the row first. Codes
arrive here already hashed. Storage holds no grant rule: the pending poll's rule comes from the
grant layer (:mod:`deviceflow.server.grant.device`), and its parameters in a :class:`PendingPoll`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

GrantStatus = Literal["pending", "approved", "denied", "consumed"]
RefreshStatus = Literal["active", "rotated", "revoked"]


@dataclass(frozen=True)
class DeviceGrant:
    """One device authorization request and its state."""

    device_hash: str
    user_hash: str
    client_id: str
    tenant_id: str
    scopes: tuple[str, ...]
    device_ip: str
    device_user_agent: str | None
    """What the request said about the device, clipped by the grant layer (at most 64 and 256
    characters: :mod:`deviceflow.server.grant._bounds`)."""
    created_at: float
    expires_at: float
    interval: int
    last_poll_at: float | None = None
    status: GrantStatus = "pending"
    user_id: str | None = None
    decided_at: float | None = None
    family_id: str | None = None


@dataclass(frozen=True)
class RefreshRecord:
    """One refresh token (by digest); tokens of one sign-in share a ``family_id``."""

    token_hash: str
    family_id: str
    client_id: str
    tenant_id: str
    user_id: str
    scopes: tuple[str, ...]
    origin: str
    issued_at: float
    expires_at: float
    absolute_expires_at: float
    status: RefreshStatus = "active"
    ip: str | None = None
    """Where the token request that got this token came from (the "your devices" page)."""
    user_agent: str | None = None
    """The device software that asked for it (``User-Agent``, clipped like a grant's)."""


@dataclass(frozen=True)
class Counter:
    """A rate-limit counter: ``count`` events in the window ending at ``reset_at``."""

    count: int
    reset_at: float


class PendingPoll(NamedTuple):
    """One pending poll for :meth:`Storage.record_poll`, as the grant layer states it.

    The fields are in the order SQL statements bind them by number (``?1`` is ``now``);
    ``leeway`` comes last, so a check-only statement (no interval rule) binds the first four.
    """

    now: float
    device_hash: str
    client_id: str
    tenant_id: str
    leeway: float | None
    """``None``: the tenant has no interval rule (no ``slow_down``), nothing is recorded."""


class PollTerms(NamedTuple):
    """What storage tells of a grant when it accepts a pending poll (:meth:`Storage.record_poll`):
    the terms a server instance judges the flow's next polls by, from memory
    (:mod:`deviceflow.server.grant._pacing`)."""

    expires_at: float
    interval: int


@dataclass(frozen=True)
class StoredUser:
    """A user kept in the database (``deviceflow admin users``), beside the configured ones."""

    id: str
    """Object id (a GUID): the ``oid`` claim."""
    tenant_id: str
    username: str
    """Unique per tenant, whatever its case."""
    password_hash: str = dataclasses.field(repr=False)
    display_name: str = ""
    mail: str | None = None
    enabled: bool = True
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class StoredClient:
    """A client (application) kept in the database (``deviceflow admin clients``)."""

    client_id: str
    tenant_id: str
    """The one tenant the client belongs to."""
    name: str
    public: bool
    secret_hash: str = dataclasses.field(repr=False)
    """argon2 hash of a confidential client's secret; empty for a public client."""
    scopes: tuple[str, ...] = ()
    enabled: bool = True
    created_at: float = 0.0


GRANT_COLUMNS = frozenset(DeviceGrant.__dataclass_fields__)
REFRESH_COLUMNS = frozenset(RefreshRecord.__dataclass_fields__)
USER_COLUMNS = frozenset(StoredUser.__dataclass_fields__) - {"id"}
CLIENT_COLUMNS = frozenset(StoredClient.__dataclass_fields__) - {"client_id"}


class Storage(Protocol):
    """What the grant engine needs from a database."""

    def insert_grant(self, grant: DeviceGrant) -> bool:
        """Store a new grant; ``False`` when a live grant already holds its user code.

        "Live" means unexpired at ``grant.created_at``; expired holders are replaced.
        """
        ...

    def find_grant(
        self, *, device_hash: str | None = None, user_hash: str | None = None
    ) -> DeviceGrant | None:
        """The grant with this device-code digest or (else) this user-code digest."""
        ...

    def update_grant(
        self, device_hash: str, expect: Mapping[str, object], changes: Mapping[str, object]
    ) -> bool:
        """Apply ``changes`` only if every ``expect`` column still matches; atomic.

        Raises:
            ValueError: a column name is not a :class:`DeviceGrant` field.
        """
        ...

    def record_poll(self, poll: PendingPoll) -> PollTerms | None:
        """Accept a pending poll that is on time, in one atomic statement.

        Accepted (the grant's :class:`PollTerms` returned) only while the grant
        ``poll.device_hash`` is ``pending``, unexpired at ``now`` (``expires_at > now``), of
        this client and tenant, and polled on time by the grant layer's rule
        (:func:`~deviceflow.server.grant.on_time.polled_on_time`; in SQL,
        :func:`~deviceflow.server.grant.on_time.pending_poll_sql`); then ``last_poll_at``
        becomes ``now``. With ``leeway=None`` there is no interval rule and nothing to record:
        the same checks, read-only. ``None`` (refused) changes nothing.
        """
        ...

    def insert_refresh(self, record: RefreshRecord) -> None:
        """Store a new refresh token record."""
        ...

    def find_refresh(self, token_hash: str) -> RefreshRecord | None:
        """The refresh token record with this digest."""
        ...

    def update_refresh(
        self, token_hash: str, expect: Mapping[str, object], changes: Mapping[str, object]
    ) -> bool:
        """Compare-and-set on a refresh token record, as :meth:`update_grant`.

        Raises:
            ValueError: a column name is not a :class:`RefreshRecord` field.
        """
        ...

    def hit(self, key: str, *, now: float, window: float, amount: int = 1) -> Counter:
        """Add ``amount`` to counter ``key`` and return it, atomically (0 reads it; a negative
        amount takes events back, never below zero); a window past ``reset_at`` restarts."""
        ...

    def purge_expired(self, before: float) -> int:
        """Delete the grants and refresh records whose ``expires_at`` is before ``before``, and
        the counters whose window ended before it (``reset_at``); return how many rows went.

        Named values stay. Safe to run from several instances at once (each row goes once).
        """
        ...

    def get_value(self, namespace: str, key: str) -> str | None:
        """A small named value (signing keys, revocation marks, presence)."""
        ...

    def put_value(self, namespace: str, key: str, value: str, *, replace: bool = True) -> bool:
        """Store a named value; with ``replace=False`` keep an existing one and return ``False``."""
        ...

    def count_pending(self, now: float) -> int:
        """How many device flows wait for their user: ``pending`` and unexpired at ``now``."""
        ...

    def check(self) -> str | None:
        """``None`` when the database answers and its schema is the current one; otherwise why
        not, in a few words (no URL, no secret). Fails fast (a few seconds at most)."""
        ...

    def close(self) -> None:
        """Release connections; the storage is unusable afterwards."""
        ...


class AsyncPoll(Protocol):
    """An awaitable ``record_poll`` a backend may also offer (PostgreSQL and SQLite do).

    Same argument, same statement, same answer as :meth:`Storage.record_poll`; the polls
    awaited at about the same time run together (PostgreSQL: one pipelined round trip, without
    blocking the event loop; SQLite: one transaction at the end of the loop's turn). The grant
    layer awaits it for the pending poll only; ``aclose`` releases what it holds on that loop.
    """

    def arecord_poll(self, poll: PendingPoll) -> Awaitable[PollTerms | None]:
        """:meth:`Storage.record_poll`, to await on the running event loop (called from it).

        The backends return their batch's future itself rather than a coroutine around it:
        the pending poll is the hot path, and each coroutine level costs at every resumption.
        """
        ...

    async def aclose(self) -> None:
        """Release what the awaitable path holds; it may be used again afterwards."""
        ...


class GrantChanges(Protocol):
    """The log of device grants that may have stopped being pending (the three backends keep
    it; :func:`grant_changes_of`).

    Every :meth:`Storage.update_grant` of a pending grant that changes its ``status`` or its
    ``expires_at`` adds the grant's device-code digest under the next change number, in the
    same transaction and in commit order, whichever instance or process made it. A server
    instance that answers polls of pending flows from memory follows the log to forget the
    flows that changed (:mod:`deviceflow.server.grant._pacing`).
    """

    def grant_changes(self, after: int | None) -> tuple[int, tuple[str, ...] | None]:
        """The changes numbered after ``after``: the newest number read, and the digests
        (oldest first; at most a thousand at a time: ask again from the number returned).
        ``after=None``: only the newest number (no digests). The digests are ``None`` when
        changes after ``after`` are no longer kept: anything may have changed.
        """
        ...


def grant_changes_of(storage: Storage) -> GrantChanges | None:
    """``storage`` when it keeps :class:`GrantChanges`, else ``None`` (nothing is answered
    from memory)."""
    if callable(getattr(storage, "grant_changes", None)):
        return storage  # type: ignore[return-value]
    return None


KEPT_CHANGES = 10_000
"""Grant changes the log keeps (the newest): an instance that falls further behind than that
forgets every flow it knew."""

CHANGES_READ = 1_000
"""Grant changes one :meth:`GrantChanges.grant_changes` call returns at most."""


def logs_change(expect: Mapping[str, object], changes: Mapping[str, object]) -> bool:
    """Whether an ``update_grant`` with ``expect`` and ``changes`` goes in the change log: it
    may end a pending grant (its status or its lifetime changes, and it may be pending)."""
    return ("status" in changes or "expires_at" in changes) and expect.get(
        "status", "pending"
    ) == "pending"


class Directory(Protocol):
    """Users, clients and sessions an administrator manages at run time (the three backends
    offer it; :func:`directory_of`). Every read goes to the database, so a change made by
    ``deviceflow admin`` is seen by every instance at its next read. Names are compared
    case-insensitively (a user is found by username or mail)."""

    def insert_user(self, user: StoredUser) -> bool:
        """Store a new user; ``False`` when its id, or its username in its tenant, is taken."""
        ...

    def find_users(self, name: str, tenant_id: str | None = None) -> list[StoredUser]:
        """The users called ``name`` (username or mail, any case), of ``tenant_id`` or of any
        tenant."""
        ...

    def find_user_by_id(self, user_id: str) -> StoredUser | None:
        """The user with this object id."""
        ...

    def list_users(self, tenant_id: str) -> list[StoredUser]:
        """Every user of ``tenant_id``, by username."""
        ...

    def update_user(self, user_id: str, changes: Mapping[str, object]) -> bool:
        """Change a user's fields (not its id); ``False`` when there is no such user.

        Raises:
            ValueError: a column name is not a :class:`StoredUser` field.
        """
        ...

    def delete_user(self, user_id: str) -> bool:
        """Delete a user; ``False`` when there was none."""
        ...

    def insert_client(self, client: StoredClient) -> bool:
        """Store a new client; ``False`` when its id is taken."""
        ...

    def find_client(self, client_id: str) -> StoredClient | None:
        """The client with this id."""
        ...

    def list_clients(self, tenant_id: str) -> list[StoredClient]:
        """Every client of ``tenant_id``, by id."""
        ...

    def update_client(self, client_id: str, changes: Mapping[str, object]) -> bool:
        """Change a client's fields (not its id); ``False`` when there is no such client.

        Raises:
            ValueError: a column name is not a :class:`StoredClient` field.
        """
        ...

    def delete_client(self, client_id: str) -> bool:
        """Delete a client; ``False`` when there was none."""
        ...

    def refresh_of_user(self, user_id: str, *, now: float) -> list[RefreshRecord]:
        """The refresh records of ``user_id`` not expired at ``now`` (any status)."""
        ...


def directory_of(storage: Storage) -> Directory | None:
    """``storage`` when it offers :class:`Directory`, else ``None`` (configured users and
    clients only)."""
    if callable(getattr(storage, "find_users", None)) and callable(
        getattr(storage, "refresh_of_user", None)
    ):
        return storage  # type: ignore[return-value]
    return None


def async_poll(storage: Storage) -> AsyncPoll | None:
    """``storage`` when it offers :class:`AsyncPoll`, else ``None``."""
    if callable(getattr(storage, "arecord_poll", None)) and callable(
        getattr(storage, "aclose", None)
    ):
        return storage  # type: ignore[return-value]
    return None


def fail_each(futures: Iterable[asyncio.Future[Any]], exc: Exception) -> None:
    """Fail every future of a batch that still waits, each with its own copy of ``exc`` (raised
    from it): one exception object raised in many tasks would grow one traceback with all of
    theirs. A future whose request went away (cancelled) is left alone."""
    for future in futures:
        if not future.done():
            future.set_exception(_copy_of(exc))


def _copy_of(exc: Exception) -> Exception:
    """A new ``type(exc)`` with the same ``args`` and attributes, raised from ``exc``; ``exc``
    itself when that cannot be made. Neither ``__init__`` (its signature is the class's own
    business) nor ``__reduce__`` (psycopg's rewrites the original's attributes) is called."""
    try:
        failure = type(exc).__new__(type(exc), *exc.args)
        failure.__dict__.update(vars(exc))
    except Exception:
        return exc
    failure.__cause__ = exc
    return failure


def check_columns(names: Iterable[str], allowed: frozenset[str]) -> None:
    """Refuse column names that are not fields (they may end up in SQL text).

    Raises:
        ValueError: an unknown column name.
    """
    for name in names:
        if name not in allowed:
            raise ValueError(f"unknown column {name!r}")
