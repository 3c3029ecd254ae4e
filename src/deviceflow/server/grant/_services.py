"""What the parts of the grant engine share, bundled once by :class:`~.GrantEngine`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from deviceflow.server.audit import AuditLog
from deviceflow.server.grant._accounts import Accounts
from deviceflow.server.grant._tokens import TokenService
from deviceflow.server.metrics import Recorder
from deviceflow.server.security import CodeHasher, RateLimiter
from deviceflow.server.settings import Client, Settings, Tenant
from deviceflow.server.storage.base import Storage


@dataclass(frozen=True)
class Services:
    """The engine's collaborators, as its parts (device grant, verification) use them."""

    settings: Callable[[], Settings]
    """The engine's settings of the moment (the web layer may replace them)."""
    storage: Storage
    clock: Callable[[], float]
    rng: Callable[[int], bytes]
    audit: AuditLog
    limiter: RateLimiter
    hasher: Callable[[], CodeHasher]
    """The keyed digest of codes (made on first use)."""
    client: Callable[[Tenant, str, str | None], Client]
    """The client of a request named by id, authenticated by the secret it presented (None:
    none), allowed the device grant (raises ``GrantError``)."""
    poll_client: Callable[[Tenant, str, str | None], Client]
    """``client`` for a pending poll: a database client may be a read a few seconds old
    (:data:`~deviceflow.server.grant._accounts.POLL_CLIENT_TTL`)."""
    tokens: TokenService
    recorder: Recorder
    """Where outcomes are counted (``deviceflow.server.metrics``; does nothing when off)."""
    accounts: Accounts
    """Users and clients: the configuration's, then the database's."""
