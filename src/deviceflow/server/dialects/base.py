"""The interface every dialect implements (structural: no base class to inherit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from deviceflow.server.grant import DeviceAuthorization, IssuedTokens

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_TOKEN_GRANT = "refresh_token"


class ParameterError(ValueError):
    """A request parameter is malformed; carries the OAuth ``error`` code to answer with."""

    def __init__(self, description: str, *, error: str = "invalid_request") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class Dialect(Protocol):
    """Spelling of requests and responses for one family of clients."""

    name: str

    def grant_type(self, raw: str) -> str:
        """Map a ``grant_type`` value to the canonical RFC value (unknown values pass through)."""
        ...

    def device_code(self, form: Mapping[str, str]) -> str | None:
        """The device code a poll carries, or None when it is missing.

        Raises:
            ParameterError: The request carries conflicting device codes.
        """
        ...

    def device_authorization_body(
        self,
        authorization: DeviceAuthorization,
        *,
        verification_uri: str,
        verification_uri_complete: str,
    ) -> dict[str, Any]:
        """The JSON body of a successful device authorization response (RFC 8628 §3.2)."""
        ...

    def token_body(self, tokens: IssuedTokens) -> dict[str, Any]:
        """The JSON body of a successful token response (RFC 6749 §5.1)."""
        ...

    def error_body(
        self, error: str, description: str, *, aadsts: int | None = None
    ) -> dict[str, Any]:
        """The JSON body of an error response (RFC 6749 §5.2)."""
        ...
