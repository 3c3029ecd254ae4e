"""Which registered client a request comes from, and whether it may go on (RFC 6749 §2.3).

A public client only names itself: its ``client_id`` is public, so presenting a secret means the
client is confused about what it is registered as, and is refused (``public_client_credential``;
Entra's AADSTS700025). A client that is not public (``public = false``) must authenticate; one
without "public client flows" and without a credential is what Entra answers with AADSTS7000218.
"""

from __future__ import annotations

from collections.abc import Callable

from deviceflow.server.grant._errors import GrantError
from deviceflow.server.settings import Client, Settings, Tenant


class ClientAuthenticator:
    """Looks clients up and checks what they present."""

    def __init__(self, settings: Callable[[], Settings]) -> None:
        self._settings = settings

    def client(self, tenant: Tenant, client_id: str, secret: str | None) -> Client:
        """The client of ``tenant`` named ``client_id``, allowed to use the device grant.

        ``secret``: what the request presented (HTTP Basic password or ``client_secret``), None
        when it presented nothing (or an empty one).

        Raises:
            GrantError: ``invalid_client`` (unknown client or one of another tenant; a public
                client presenting a secret, 401; a confidential client without credentials),
                ``unauthorized_client`` (the client may not use the device grant).
        """
        client = self._settings().client(client_id)
        if client is None or (client.tenants is not None and tenant.id not in client.tenants):
            raise GrantError("invalid_client", "unknown client", reason="unknown_client")
        if client.public and secret is not None:
            raise GrantError(
                "invalid_client",
                "a public client presented a credential",
                status=401,
                reason="public_client_credential",
            )
        if not client.public:
            raise GrantError(
                "invalid_client",
                "the client does not allow public client flows",
                reason="public_flows_disabled",
            )
        if not client.device_flow_enabled:
            raise GrantError("unauthorized_client", "the client may not use the device code grant")
        return client
