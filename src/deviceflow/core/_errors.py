"""Protocol errors raised by the sans-I/O core.

Errors are split by who is at fault (h11's ``LocalProtocolError``/``RemoteProtocolError``, plus
OAuth's own error responses):

- :class:`LocalProtocolError`: the caller used the flow object wrongly (a call in the wrong state,
  a poll before ``next_poll_at``).
- :class:`RemoteProtocolError`: the server broke the protocol (a body that is not JSON, a missing
  required member, an HTML page from a proxy).
- :class:`OAuthError`: the server answered with a well-formed OAuth error response
  (RFC 6749 §5.2, RFC 8628 §3.5). Known codes map to subclasses through :data:`OAUTH_ERRORS`;
  unknown codes stay a plain :class:`OAuthError` that keeps the raw code and description.

The public tree, with the transport errors added outside the core, is drawn in
``deviceflow.errors``. This module is self-contained so that ``core/`` runs on MicroPython.
"""

# typing.TYPE_CHECKING without importing typing (MicroPython has none; CPython skips ~2 ms of
# start-up): type checkers treat the name as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any


class DeviceFlowError(Exception):
    """Root of every exception deviceflow raises on purpose."""


class LocalProtocolError(DeviceFlowError):
    """The caller broke the rules: a call made in the wrong state, or a poll made too early."""


class RemoteProtocolError(DeviceFlowError):
    """The server broke the protocol: a malformed or unexpected response.

    Attributes:
        status: the HTTP status of the offending response, when there was one.
        snippet: a short, sanitised excerpt of the body (printable ASCII, at most 120 chars).
    """

    def __init__(
        self, message: str, *, status: "int | None" = None, snippet: "str | None" = None
    ) -> None:
        text = message
        if status is not None:
            text += " (HTTP " + str(status) + ")"
        if snippet:
            text += ": " + repr(snippet)
        super().__init__(text)
        self.status = status
        self.snippet = snippet


def aadsts_hint(codes: "tuple[int, ...]") -> "str | None":
    """Return an actionable hint for the first AADSTS code we know, or ``None``."""
    if not codes:
        return None
    # Imported on demand: only Microsoft's errors carry AADSTS codes, and a board keeps
    # this module resident (the table alone costs ~2 KiB of its heap).
    from ._hints import AADSTS_HINTS

    for code in codes:
        hint = AADSTS_HINTS.get(code)
        if hint is not None:
            return hint
    return None


class OAuthError(DeviceFlowError):
    """The server sent a well-formed OAuth error response (RFC 6749 §5.2).

    This class is also used as is for error codes deviceflow does not know.

    Attributes:
        code: the canonical RFC error code this class stands for (class attribute; ``None`` on the
            generic class).
        error: the error code as the server sent it (``authorization_declined`` for an
            :class:`AccessDeniedError` from Microsoft, for example).
        description: the server's ``error_description``, if any.
        error_uri: the server's ``error_uri``, if any.
        error_codes: Microsoft ``AADSTS`` numbers, from ``error_codes`` or the description.
        status: the HTTP status of the response, when there was one.
        raw: the decoded JSON error body, when there was one.
        hint: an actionable message for a person, when deviceflow knows one.
    """

    code: "str | None" = None
    aliases: "tuple[str, ...]" = ()

    def __init__(
        self,
        error: "str | None" = None,
        description: "str | None" = None,
        *,
        error_uri: "str | None" = None,
        error_codes: "tuple[int, ...]" = (),
        status: "int | None" = None,
        raw: "dict[str, Any] | None" = None,
        hint: "str | None" = None,
    ) -> None:
        raw_code = error if error else (self.code or "unknown_error")
        if hint is None:
            hint = aadsts_hint(tuple(error_codes))
        text = raw_code
        if description:
            text += ": " + description
        if hint:
            text += " (" + hint + ")"
        super().__init__(text)
        self.error = raw_code
        self.description = description
        self.error_uri = error_uri
        self.error_codes = tuple(error_codes)
        self.status = status
        self.raw = raw
        self.hint = hint

    def __repr__(self) -> str:
        return type(self).__name__ + "(error=" + repr(self.error) + ")"


class AccessDeniedError(OAuthError):
    """The user (or the server's policy) denied the authorization request (RFC 8628 §3.5).

    Microsoft sends ``authorization_declined`` for the same outcome.
    """

    code = "access_denied"
    aliases = ("authorization_declined",)


class ExpiredTokenError(OAuthError):
    """The device code expired before the user finished (RFC 8628 §3.5); start a new flow.

    Microsoft's v1 endpoint sends ``code_expired``. The core also raises it locally when a poll is
    attempted at or after ``expires_at``.
    """

    code = "expired_token"
    aliases = ("code_expired",)


class BadVerificationCodeError(OAuthError):
    """The server does not recognise the device code that was sent (``bad_verification_code``)."""

    code = "bad_verification_code"


class InvalidClientError(OAuthError):
    """Client authentication failed, or the client may not use this grant (RFC 6749 §5.2)."""

    code = "invalid_client"


class InvalidGrantError(OAuthError):
    """The grant (device code or refresh token) is invalid, expired, revoked or already used."""

    code = "invalid_grant"


class InvalidRequestError(OAuthError):
    """The request is missing a parameter or is otherwise malformed (RFC 6749 §5.2)."""

    code = "invalid_request"


class InvalidScopeError(OAuthError):
    """The requested scope is invalid, unknown or exceeds what was granted (RFC 6749 §5.2)."""

    code = "invalid_scope"


class UnauthorizedClientError(OAuthError):
    """The client is not allowed to use the device authorization grant (RFC 6749 §5.2)."""

    code = "unauthorized_client"


class UnsupportedGrantTypeError(OAuthError):
    """The server does not support the grant type that was sent (RFC 6749 §5.2)."""

    code = "unsupported_grant_type"


def _build_registry() -> "dict[str, Any]":
    registry = {}
    for cls in (
        AccessDeniedError,
        ExpiredTokenError,
        BadVerificationCodeError,
        InvalidClientError,
        InvalidGrantError,
        InvalidRequestError,
        InvalidScopeError,
        UnauthorizedClientError,
        UnsupportedGrantTypeError,
    ):
        registry[cls.code] = cls
        for alias in cls.aliases:
            registry[alias] = cls
    return registry


#: Maps each known OAuth ``error`` code (and dialect alias) to its exception class.
OAUTH_ERRORS: "dict[str, type[OAuthError]]" = _build_registry()


def oauth_error_class(code: str) -> "type[OAuthError]":
    """Return the class for an OAuth ``error`` code; unknown codes get :class:`OAuthError`."""
    return OAUTH_ERRORS.get(code, OAuthError)
