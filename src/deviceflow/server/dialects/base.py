"""The interface every dialect implements (structural: no base class to inherit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from deviceflow.server.grant import DeviceAuthorization, IssuedTokens
    from deviceflow.server.settings import Client

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_TOKEN_GRANT = "refresh_token"

Version = Literal["v1", "v2"]


class ParameterError(ValueError):
    """A request parameter is malformed; carries the OAuth ``error`` code to answer with."""

    def __init__(self, description: str, *, error: str = "invalid_request") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Wire:
    """What a dialect may need to know about the request it answers.

    ``version`` is the endpoint generation (Microsoft's ``/oauth2/`` v1 or ``/oauth2/v2.0/``);
    ``trace_id`` is fresh per request and ``correlation_id`` echoes ``client-request-id`` when
    the client sent one. ``now`` comes from the app's injected clock.
    """

    base_url: str
    now: float
    trace_id: str
    correlation_id: str
    version: Version = "v2"
    client_info: bool = False
    resource: str | None = None
    client_id: str | None = None
    tenant: str | None = None


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

    def target(self, form: Mapping[str, str], wire: Wire) -> tuple[str | None, str | None]:
        """``(scope, resource)`` a device authorization or refresh request asks for."""
        ...

    def check_client(self, form: Mapping[str, str], client: Client | None) -> None:
        """Dialect rules about client authentication on a public-client request.

        Raises:
            GrantError: The request is not acceptable (e.g. a secret sent by a public client).
        """
        ...

    def device_authorization_body(
        self,
        authorization: DeviceAuthorization,
        *,
        verification_uri: str,
        verification_uri_complete: str | None,
        wire: Wire | None = None,
    ) -> dict[str, Any]:
        """The JSON body of a successful device authorization response (RFC 8628 §3.2)."""
        ...

    def token_body(self, tokens: IssuedTokens, *, wire: Wire | None = None) -> dict[str, Any]:
        """The JSON body of a successful token response (RFC 6749 §5.1)."""
        ...

    def error_body(
        self,
        error: str,
        description: str,
        *,
        aadsts: int | None = None,
        wire: Wire | None = None,
    ) -> dict[str, Any]:
        """The JSON body of an error response (RFC 6749 §5.2)."""
        ...
