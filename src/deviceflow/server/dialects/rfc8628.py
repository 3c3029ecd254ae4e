"""RFC 8628 spoken exactly: standard parameter names and response members."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deviceflow.server.grant import DeviceAuthorization, IssuedTokens


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

    def device_authorization_body(
        self,
        authorization: DeviceAuthorization,
        *,
        verification_uri: str,
        verification_uri_complete: str,
    ) -> dict[str, Any]:
        """The RFC 8628 §3.2 members, ``verification_uri_complete`` and ``interval`` included."""
        return {
            "device_code": authorization.device_code,
            "user_code": authorization.user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": verification_uri_complete,
            "expires_in": int(authorization.expires_in),
            "interval": int(authorization.interval),
        }

    def token_body(self, tokens: IssuedTokens) -> dict[str, Any]:
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
        self, error: str, description: str, *, aadsts: int | None = None
    ) -> dict[str, Any]:
        """RFC 6749 §5.2: ``error`` and ``error_description`` (AADSTS numbers are not standard)."""
        return {"error": error, "error_description": description}
