"""Values the grant engine hands to the web layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from deviceflow.server.settings import Client, Tenant, UserRecord

Origin = Literal["device_code"]
GrantType = Literal["device_code", "refresh_token"]


@dataclass(frozen=True)
class DeviceAuthorization:
    """The answer to a device authorization request (RFC 8628 §3.2), minus the URLs.

    The web layer adds ``verification_uri`` (and ``verification_uri_complete``, ``message``).
    Neither code appears in the repr.
    """

    device_code: str = field(repr=False)
    user_code: str = field(repr=False)  # display form, e.g. "BCDF-GHJK"
    expires_in: int
    interval: int


@dataclass(frozen=True)
class PendingRequest:
    """A live device request, as the confirm page shows it (RFC 8628 §5.4)."""

    user_code: str = field(repr=False)  # display form
    client: Client
    scopes: tuple[str, ...]
    device_ip: str
    device_user_agent: str | None
    created_at: float
    expires_at: float
    tenant: Tenant
    network_warning: bool = False
    """The approver is not on the device's network and the policy says ``warn``."""


@dataclass(frozen=True)
class IssuedTokens:
    """A successful token response.

    ``origin`` is the protocol-tracking mark (the flow the session began with); it survives
    refreshes. ``grant_type`` says which grant produced this particular response.
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = field(repr=False)
    id_token: str | None = field(repr=False)
    user: UserRecord
    client: Client
    tenant: Tenant
    origin: Origin = "device_code"
    grant_type: GrantType = "device_code"
