"""RFC 8628 spoken exactly: standard parameter names and response members."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deviceflow.server.dialects.base import Wire
    from deviceflow.server.grant import DeviceAuthorization, IssuedTokens
    from deviceflow.server.settings import Client


class Rfc8628Dialect:
    """The standard dialect (RFC 8628 §3.2, §3.4, §3.5; RFC 6749 §5.1, §5.2)."""

    name = "rfc8628"

    def grant_type(self, raw: str) -> str:
        """Return ``raw``: the standard dialect knows only the registered values."""
        return raw

    def device_code(self, form: Mapping[str, str]) -> str | None:
        """The ``device_code`` parameter (RFC 8628 §3.4), or None when absent or empty.

        Raises:
            Nothing.
        """
        return form.get("device_code") or None

    def target(self, form: Mapping[str, str], wire: Wire) -> tuple[str | None, str | None]:
        """``scope`` (RFC 6749 §3.3) and, for Microsoft-minded clients, ``resource``."""
        return form.get("scope") or None, form.get("resource") or None

    def check_client(self, form: Mapping[str, str], client: Client | None) -> None:
        """Nothing to check: the engine decides whether the client may use the grant.

        Raises:
            Nothing.
        """

    def device_authorization_body(
        self,
        authorization: DeviceAuthorization,
        *,
        verification_uri: str,
        verification_uri_complete: str | None,
        wire: Wire | None = None,
    ) -> dict[str, Any]:
        """The RFC 8628 §3.2 members, ``verification_uri_complete`` (when on) and ``interval``."""
        body: dict[str, Any] = {
            "device_code": authorization.device_code,
            "user_code": authorization.user_code,
            "verification_uri": verification_uri,
        }
        if verification_uri_complete:
            body["verification_uri_complete"] = verification_uri_complete
        body["expires_in"] = int(authorization.expires_in)
        body["interval"] = int(authorization.interval)
        return body

    def token_body(self, tokens: IssuedTokens, *, wire: Wire | None = None) -> dict[str, Any]:
        """RFC 6749 §5.1 members; ``refresh_token`` and ``id_token`` only when issued."""
        body: dict[str, Any] = {
            "access_token": tokens.access_token,
            "token_type": tokens.token_type,
            "expires_in": int(tokens.expires_in),
            "scope": tokens.scope,
        }
        if tokens.refresh_token:
            body["refresh_token"] = tokens.refresh_token
        if tokens.id_token:
            body["id_token"] = tokens.id_token
        return body

    def error_body(
        self,
        error: str,
        description: str,
        *,
        aadsts: int | None = None,
        wire: Wire | None = None,
    ) -> dict[str, Any]:
        """RFC 6749 §5.2: ``error`` and ``error_description`` (AADSTS numbers are not standard)."""
        return {"error": error, "error_description": description}
