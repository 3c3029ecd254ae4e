"""GrantEngine: stub bodies (seam first); implementation follows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deviceflow.server.grant._types import DeviceAuthorization, IssuedTokens, PendingRequest
from deviceflow.server.settings import Settings, Tenant, UserRecord
from deviceflow.server.storage.base import Storage

GRAPH_AUDIENCE = "https://graph.microsoft.com"


class GrantEngine:
    """Decides every step of the device and refresh grants; storage keeps the state."""

    def __init__(
        self,
        settings: Settings,
        *,
        storage: Storage,
        clock: Callable[[], float],
        rng: Callable[[int], bytes],
    ) -> None:
        self.settings = settings
        self._storage = storage
        self._clock = clock
        self._rng = rng

    def authorize_device(
        self,
        *,
        tenant: Tenant,
        client_id: str,
        scope: str | None,
        resource: str | None,
        device_ip: str,
        user_agent: str | None,
    ) -> DeviceAuthorization:
        raise NotImplementedError

    def poll(self, *, tenant: Tenant, client_id: str, device_code: str, ip: str) -> IssuedTokens:
        raise NotImplementedError

    def refresh(
        self, *, tenant: Tenant, client_id: str, refresh_token: str, scope: str | None, ip: str
    ) -> IssuedTokens:
        raise NotImplementedError

    def revoke(self, *, token: str, client_id: str | None) -> None:
        raise NotImplementedError

    def lookup_user_code(self, *, user_code: str, ip: str, session: str) -> PendingRequest:
        raise NotImplementedError

    def authenticate(self, *, tenant: Tenant, username: str, password: str) -> UserRecord | None:
        raise NotImplementedError

    def decide(
        self,
        *,
        user_code: str,
        approve: bool,
        user: UserRecord,
        ip: str,
        session: str,
        user_agent: str | None,
    ) -> None:
        raise NotImplementedError

    def jwks(self) -> dict[str, Any]:
        raise NotImplementedError

    def verify_access_token(self, token: str) -> dict[str, Any]:
        raise NotImplementedError

    def get_presence(self, user_id: str) -> tuple[str, str]:
        raise NotImplementedError

    def set_presence(self, user_id: str, availability: str, activity: str) -> None:
        raise NotImplementedError

    def user_by_id(self, user_id: str) -> UserRecord | None:
        return self.settings.user_by_id(user_id)
