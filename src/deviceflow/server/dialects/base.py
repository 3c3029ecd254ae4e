"""The interface every dialect implements (structural: no base class to inherit).

A dialect is how one family of clients spells the one grant engine's requests and results: its
parameter names, its response members, its error codes (from the engine's neutral
:data:`~deviceflow.server.grant.Reason`) and its discovery document. It also carries the defaults
a tenant speaking it gets (``slow_down``, ``verification_uri_complete``, the user-code format) and
the refresh rotation its provider uses. A dialect is stateless; it registers itself once with
:func:`deviceflow.server.dialects.register`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from deviceflow.server.grant import DeviceAuthorization, IssuedTokens, Reason
    from deviceflow.server.settings import Client, Rotation, UserCodeFormat

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

    @classmethod
    def of(
        cls,
        base_url: str,
        now: float,
        trace_id: str,
        correlation_id: str,
        version: Version,
        client_info: bool,
        resource: str | None,
        client_id: str | None,
        tenant: str | None,
    ) -> Wire:
        """The same as the constructor with every field given, for the token endpoint's hot
        path: a frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``
        (a Microsoft tenant's pending poll builds one wire per poll); this gives the new
        instance its attributes as one dictionary."""
        wire = object.__new__(cls)
        object.__setattr__(
            wire,
            "__dict__",
            {
                "base_url": base_url,
                "now": now,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "version": version,
                "client_info": client_info,
                "resource": resource,
                "client_id": client_id,
                "tenant": tenant,
            },
        )
        return wire


@dataclass(frozen=True)
class Verification:
    """Where the user approves a device (RFC 8628 §3.2): ``uri``, and ``complete`` (the same
    page with the user code filled in) when the tenant sends it, else None."""

    uri: str
    complete: str | None = None


@dataclass(frozen=True)
class Discovery:
    """The facts one tenant's discovery document is built from.

    ``host`` is this server's base URL; ``segment`` is the tenant as the caller named it in the
    path (clients take their cache realm from it); ``issuer`` is the ``iss`` of the tokens issued
    under that segment (see :meth:`Dialect.issuer_name`); ``scopes`` are the scopes some client
    may request (with ``openid``), sorted.
    """

    host: str
    segment: str
    issuer: str
    scopes: tuple[str, ...]

    @property
    def base(self) -> str:
        """The URL prefix of the tenant's endpoints: ``{host}/{segment}``."""
        return f"{self.host}/{self.segment}"


class Dialect(Protocol):
    """Spelling of requests and responses for one family of clients, and its defaults."""

    name: str
    """What a tenant's ``dialect`` setting names it by."""
    summary: str
    """One line for the generated configuration reference."""
    slow_down: bool
    """Whether a tenant answers early polls with ``slow_down`` unless its settings say."""
    verification_uri_complete: bool
    """Whether a tenant sends ``verification_uri_complete`` unless its settings say."""
    user_code: UserCodeFormat | None
    """The provider's own user-code format, or None for the ``[user_code]`` table."""
    refresh_rotation: Rotation
    """How the provider rotates refresh tokens (``refresh_rotation = "<name>"`` means this)."""
    cacheable_errors: bool
    """Whether :meth:`error_body` depends on its arguments only (never on the :class:`Wire`),
    so an endpoint may encode each error body once."""
    names_client_on_refresh: bool
    """Whether a refresh must name its client even when that client is public (Entra asks for
    ``client_id``); RFC 6749 §6 asks a public client for the refresh token alone."""

    def grant_type(self, raw: str) -> str:
        """Map a ``grant_type`` value to the canonical RFC value (unknown values pass through)."""
        ...

    def issuer_name(self, segment: str, guid: str) -> str:
        """The tenant's name in the issuer ``{public_url}/{name}/v2.0`` of requests under
        ``segment`` (the first path segment, as the client wrote it; ``guid`` is the tenant's):
        discovery's ``issuer`` there, and the ``iss`` of the tokens issued there."""
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

    def check_client(self, form: Mapping[str, str], client: Callable[[], Client | None]) -> None:
        """Dialect rules about client authentication on a public-client request.

        ``client`` looks up the client the request names (None: unknown); it is called only
        when a rule needs it, so a request no rule applies to costs no lookup.

        Raises:
            GrantError: The request is not acceptable (e.g. a secret sent by a public client).
        """
        ...

    def device_authorization_body(
        self, authorization: DeviceAuthorization, verification: Verification, wire: Wire
    ) -> dict[str, Any]:
        """The JSON body of a successful device authorization response (RFC 8628 §3.2)."""
        ...

    def token_body(self, tokens: IssuedTokens, wire: Wire) -> dict[str, Any]:
        """The JSON body of a successful token response (RFC 6749 §5.1)."""
        ...

    def error_body(
        self, error: str, detail: str, *, reason: Reason | None = None, wire: Wire | None = None
    ) -> dict[str, Any]:
        """The JSON body of an error response (RFC 6749 §5.2).

        ``error`` is the RFC code, ``detail`` the engine's text and ``reason`` its neutral reason,
        when it gave one; without a :class:`Wire` the body holds what needs no per-request facts.
        """
        ...

    def error_json(
        self, error: str, detail: str, *, reason: Reason | None = None, wire: Wire
    ) -> bytes:
        """:meth:`error_body` for ``wire``, as compact JSON bytes (``separators=(",", ":")``,
        ASCII): a dialect whose bodies carry per-request values may encode the rest once."""
        ...

    def metadata(self, discovery: Discovery) -> dict[str, Any]:
        """The tenant's discovery document (RFC 8414 §2, OpenID Connect Discovery §3)."""
        ...
