"""Which registered client a request comes from, and whether it proved it (RFC 6749 §2.3).

A public client only names itself: its ``client_id`` is public, so presenting a secret means the
client is confused about what it is registered as, and is refused (``public_client_credential``;
Entra's error 700025). A confidential client (``public = false``) authenticates on every request
with the secret whose argon2 hash the configuration holds, by HTTP Basic or in the body (the
endpoint reads either; RFC 6749 §2.3.1): none is ``public_flows_disabled`` (Entra's error 7000218
"must contain ... 'client_secret'"), a wrong one ``client_secret_invalid`` (7000215); both
are ``401 invalid_client``.

A confidential device polls every few seconds with the same secret, and argon2 is deliberately
costly (tens of milliseconds, 64 MiB): after one successful check the client's secret is
remembered as a SHA-256 digest (bound to the configured hash), so the next requests with that
secret cost one digest. Any other secret costs a full argon2 check, so those checks are bounded
like password guesses (:mod:`._signin`): each is counted first, against the client and against
the request's address (an IPv6 client's /64) when the caller knows it, with the sign-in limits
(``sign_in_failures`` per client, ``sign_in_address_failures`` per address, in
``sign_in_window``). Past either limit the request is refused before any hashing, as ``401
invalid_client`` with ``Retry-After`` (reason ``client_secret_throttled``), even with the right
secret, until the window ends; a right secret takes its attempt back. The remembered secret is
checked before anything is counted, so a client already using its right secret keeps working
while someone floods it with wrong ones.

Revocation (RFC 7009 §2.1) and introspection (RFC 7662 §2.1) first need to know which client
asks: :meth:`ClientAuthenticator.identified` (any client of the tenant, authenticated) and
:meth:`ClientAuthenticator.confidential` (a confidential one only).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from deviceflow.server.audit import AuditLog
from deviceflow.server.grant._errors import GrantError
from deviceflow.server.security import (
    Attempt,
    Bucket,
    RateLimiter,
    address_key,
    verify_password,
)
from deviceflow.server.settings import Client, Settings, Tenant


class ClientAuthenticator:
    """Looks clients up and checks what they present."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        *,
        verify: Callable[[str | None, str], bool] = verify_password,
        find: Callable[[str, bool], Client | None] | None = None,
        limiter: RateLimiter | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        """``find(client_id, for_poll)`` looks clients up (default: in ``settings`` only);
        ``limiter`` counts wrong secrets (None: no limit, for tests of the checks alone);
        ``audit`` gets a ``client_secret_lockout`` event when a limit is reached."""
        self._settings = settings
        self._limiter = limiter
        self._audit = audit
        self._find = find or (lambda client_id, _poll: self._settings().client(client_id))
        self._verify = verify
        self._verified: dict[str, bytes] = {}
        """client id -> digest of (configured hash, last secret that passed); one per client."""

    def authenticate(self, client: Client, secret: str | None, *, ip: str | None = None) -> None:
        """Check what ``client`` presented: nothing if it is public, its secret otherwise.

        ``secret``: the HTTP Basic password or ``client_secret``; None when absent or empty.
        ``ip``: the request's address, for the per-address limit (None: counted per client only).

        Raises:
            GrantError: ``invalid_client`` (401): a public client presenting a secret, a
                confidential client presenting none or a wrong one, or too many wrong ones
                (``client_secret_throttled``, with ``retry_after``; nothing was hashed).
        """
        if client.public:
            if secret is not None:
                raise GrantError(
                    "invalid_client",
                    "a public client presented a credential",
                    status=401,
                    reason="public_client_credential",
                )
            return
        if secret is None:
            raise GrantError(
                "invalid_client",
                "the client must authenticate (client_secret_basic or client_secret_post)",
                status=401,
                reason="public_flows_disabled",
            )
        seen = hashlib.sha256(f"{client.secret_hash}\n{secret}".encode()).digest()
        remembered = self._verified.get(client.client_id)
        if remembered is not None and hmac.compare_digest(remembered, seen):
            return
        attempts = self._admit(client, ip)
        if not self._verify(client.secret_hash or None, secret):
            locked = [a.bucket.prefix for a in attempts if a.is_last]
            if locked and self._audit is not None:
                self._audit.event(
                    "client_secret_lockout", client_id=client.client_id, ip=ip, limits=locked
                )
            raise GrantError(
                "invalid_client",
                "client authentication failed",
                status=401,
                reason="client_secret_invalid",
            )
        for attempt in attempts:  # only wrong secrets use the limits up
            self._refund(attempt)
        self._verified[client.client_id] = seen

    def _admit(self, client: Client, ip: str | None) -> list[Attempt]:
        """Count one secret check against ``client`` and ``ip`` (see the module docstring).

        Raises:
            GrantError: ``invalid_client`` (``client_secret_throttled``) past a limit; the
                attempts that were admitted are taken back.
        """
        if self._limiter is None:
            return []
        limits = self._settings().rate_limits
        window = limits.sign_in_window
        attempts = [
            self._limiter.admit(
                Bucket("client_secret_client", limits.sign_in_failures, window), client.client_id
            )
        ]
        if ip is not None:
            per_address = Bucket("client_secret_address", limits.sign_in_address_failures, window)
            attempts.append(self._limiter.admit(per_address, address_key(ip)))
        refused = [a for a in attempts if a.refused]
        if not refused:
            return attempts
        for attempt in attempts:
            if not attempt.refused:
                self._refund(attempt)
        raise GrantError(
            "invalid_client",
            "too many failed client authentications; try again later",
            status=401,
            reason="client_secret_throttled",
            retry_after=max(a.retry_after or 1 for a in refused),
        )

    def _refund(self, attempt: Attempt) -> None:
        if self._limiter is not None:
            self._limiter.refund(attempt)

    def identified(
        self, tenant: Tenant, client_id: str | None, secret: str | None, *, ip: str | None = None
    ) -> Client:
        """The client of ``tenant`` named ``client_id``, authenticated if confidential: who may
        revoke a token (RFC 7009 §2.1: the client "includes its authentication credentials as
        described in Section 2.3 of [RFC6749]"; a public client names itself).

        Raises:
            GrantError: ``invalid_client`` (401): no client named, an unknown one or one of
                another tenant, or a failed authentication.
        """
        client = self._named(tenant, client_id)
        self.authenticate(client, secret, ip=ip)
        return client

    def confidential(
        self, tenant: Tenant, client_id: str | None, secret: str | None, *, ip: str | None = None
    ) -> Client:
        """The confidential client of ``tenant`` named ``client_id``, authenticated: the only
        callers an endpoint that "MUST ... require ... client authentication" accepts (RFC 7662
        §2.1, introspection).

        Raises:
            GrantError: ``invalid_client`` (401): no client named, an unknown one or one of
                another tenant, a public client, or a failed authentication.
        """
        client = self._named(tenant, client_id)
        if client.public:
            raise GrantError(
                "invalid_client",
                "this endpoint requires client authentication (a confidential client)",
                status=401,
                reason="client_authentication_required",
            )
        self.authenticate(client, secret, ip=ip)
        return client

    def _named(self, tenant: Tenant, client_id: str | None) -> Client:
        """The client of ``tenant`` named ``client_id`` (401 ``unknown_client`` otherwise)."""
        client = self._find(client_id, False) if client_id else None
        if client is None or (client.tenants is not None and tenant.id not in client.tenants):
            raise GrantError(
                "invalid_client", "unknown client", status=401, reason="unknown_client"
            )
        return client

    def client(
        self,
        tenant: Tenant,
        client_id: str,
        secret: str | None,
        *,
        for_poll: bool = False,
        ip: str | None = None,
    ) -> Client:
        """The client of ``tenant`` named ``client_id``, authenticated, allowed the device grant.

        Raises:
            GrantError: ``invalid_client`` (unknown client or one of another tenant; failed
                authentication, see :meth:`authenticate`), ``unauthorized_client`` (the client
                may not use the device grant).
        """
        client = self._find(client_id, for_poll)
        if client is None or (client.tenants is not None and tenant.id not in client.tenants):
            raise GrantError("invalid_client", "unknown client", reason="unknown_client")
        self.authenticate(client, secret, ip=ip)
        if not client.device_flow_enabled:
            raise GrantError("unauthorized_client", "the client may not use the device code grant")
        return client
