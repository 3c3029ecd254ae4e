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
secret cost one digest; a wrong secret still costs a full argon2 check.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from deviceflow.server.grant._errors import GrantError
from deviceflow.server.security import verify_password
from deviceflow.server.settings import Client, Settings, Tenant


class ClientAuthenticator:
    """Looks clients up and checks what they present."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        *,
        verify: Callable[[str | None, str], bool] = verify_password,
        find: Callable[[str, bool], Client | None] | None = None,
    ) -> None:
        """``find(client_id, for_poll)`` looks clients up (default: in ``settings`` only)."""
        self._settings = settings
        self._find = find or (lambda client_id, _poll: self._settings().client(client_id))
        self._verify = verify
        self._verified: dict[str, bytes] = {}
        """client id -> digest of (configured hash, last secret that passed); one per client."""

    def authenticate(self, client: Client, secret: str | None) -> None:
        """Check what ``client`` presented: nothing if it is public, its secret otherwise.

        ``secret``: the HTTP Basic password or ``client_secret``; None when absent or empty.

        Raises:
            GrantError: ``invalid_client`` (401): a public client presenting a secret, a
                confidential client presenting none or a wrong one.
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
        if not self._verify(client.secret_hash or None, secret):
            raise GrantError(
                "invalid_client",
                "client authentication failed",
                status=401,
                reason="client_secret_invalid",
            )
        self._verified[client.client_id] = seen

    def confidential(self, tenant: Tenant, client_id: str | None, secret: str | None) -> Client:
        """The confidential client of ``tenant`` named ``client_id``, authenticated: the only
        callers an endpoint that "MUST ... require ... client authentication" accepts (RFC 7662
        §2.1, introspection).

        Raises:
            GrantError: ``invalid_client`` (401): no client named, an unknown one or one of
                another tenant, a public client, or a failed authentication.
        """
        client = self._find(client_id, False) if client_id else None
        if client is None or (client.tenants is not None and tenant.id not in client.tenants):
            raise GrantError(
                "invalid_client", "unknown client", status=401, reason="unknown_client"
            )
        if client.public:
            raise GrantError(
                "invalid_client",
                "this endpoint requires client authentication (a confidential client)",
                status=401,
                reason="client_authentication_required",
            )
        self.authenticate(client, secret)
        return client

    def client(
        self, tenant: Tenant, client_id: str, secret: str | None, *, for_poll: bool = False
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
        self.authenticate(client, secret)
        if not client.device_flow_enabled:
            raise GrantError("unauthorized_client", "the client may not use the device code grant")
        return client
