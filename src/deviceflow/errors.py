"""The public exception tree: every exception deviceflow raises on purpose.

Protocol errors are defined in :mod:`deviceflow.core` (which must stand alone on MicroPython) and
re-exported here; the transport family is defined here. Catch :class:`DeviceFlowError` to catch
them all::

    DeviceFlowError
    ├── LocalProtocolError            the caller broke the rules (wrong state, poll too early)
    ├── FlowCancelledError            ``should_cancel()`` said stop while waiting for approval
    ├── RemoteProtocolError           the server broke the protocol (not JSON, missing members)
    ├── OAuthError                    a well-formed OAuth error response; unknown codes stay here
    │   ├── AccessDeniedError         access_denied / authorization_declined
    │   ├── ExpiredTokenError         expired_token / code_expired (or expires_at reached)
    │   ├── BadVerificationCodeError  bad_verification_code
    │   ├── InvalidClientError        invalid_client (AADSTS7000218: allow public client flows)
    │   ├── InvalidGrantError         invalid_grant
    │   ├── InvalidRequestError       invalid_request
    │   ├── InvalidScopeError         invalid_scope
    │   ├── UnauthorizedClientError   unauthorized_client
    │   └── UnsupportedGrantTypeError unsupported_grant_type
    └── TransportError                the request did not complete (``is_transient`` says retry)
        ├── TransportTimeoutError
        │   ├── ConnectTimeoutError
        │   └── ReadTimeoutError
        ├── NetworkError
        │   ├── ConnectError          refused, unreachable, name resolution failed
        │   ├── ReadError             reset or dropped while reading the response
        │   └── WriteError            reset or dropped while sending the request
        ├── ProxyError
        ├── TLSError                  certificate or handshake failure (not transient)
        └── InsecureTransportError    plain http to a non-loopback host (not transient)

HTTP 5xx and 429 answers are not exceptions: the core reports them while polling as a
``Retrying`` event, so the driver can back off and keep polling.
"""

from __future__ import annotations

# The protocol errors, defined in the core (which must stand alone), re-exported (``X as X``).
from deviceflow.core._errors import OAUTH_ERRORS as OAUTH_ERRORS
from deviceflow.core._errors import AccessDeniedError as AccessDeniedError
from deviceflow.core._errors import BadVerificationCodeError as BadVerificationCodeError
from deviceflow.core._errors import DeviceFlowError as DeviceFlowError
from deviceflow.core._errors import ExpiredTokenError as ExpiredTokenError
from deviceflow.core._errors import InvalidClientError as InvalidClientError
from deviceflow.core._errors import InvalidGrantError as InvalidGrantError
from deviceflow.core._errors import InvalidRequestError as InvalidRequestError
from deviceflow.core._errors import InvalidScopeError as InvalidScopeError
from deviceflow.core._errors import LocalProtocolError as LocalProtocolError
from deviceflow.core._errors import OAuthError as OAuthError
from deviceflow.core._errors import RemoteProtocolError as RemoteProtocolError
from deviceflow.core._errors import UnauthorizedClientError as UnauthorizedClientError
from deviceflow.core._errors import UnsupportedGrantTypeError as UnsupportedGrantTypeError
from deviceflow.core._messages import HttpRequest

__all__ = [
    "OAUTH_ERRORS",
    "AccessDeniedError",
    "BadVerificationCodeError",
    "ConnectError",
    "ConnectTimeoutError",
    "DeviceFlowError",
    "ExpiredTokenError",
    "FlowCancelledError",
    "InsecureTransportError",
    "InvalidClientError",
    "InvalidGrantError",
    "InvalidRequestError",
    "InvalidScopeError",
    "LocalProtocolError",
    "NetworkError",
    "OAuthError",
    "ProxyError",
    "ReadError",
    "ReadTimeoutError",
    "RemoteProtocolError",
    "TLSError",
    "TransportError",
    "TransportTimeoutError",
    "UnauthorizedClientError",
    "UnsupportedGrantTypeError",
    "WriteError",
]


class FlowCancelledError(DeviceFlowError):
    """``should_cancel()`` returned true while waiting: the sign-in was abandoned."""


class TransportError(DeviceFlowError):
    """The HTTP exchange did not complete; no response reached the core.

    Attributes:
        is_transient: class attribute; ``True`` when retrying later may succeed (timeouts, resets,
            refused connections), ``False`` for faults that will not go away on their own.
        request: the request that failed, when known.
    """

    is_transient: bool = True

    def __init__(self, message: str, *, request: HttpRequest | None = None) -> None:
        super().__init__(message)
        self.request = request


class TransportTimeoutError(TransportError):
    """The request timed out."""


class ConnectTimeoutError(TransportTimeoutError):
    """Connecting to the server timed out."""


class ReadTimeoutError(TransportTimeoutError):
    """The server did not answer (or finish answering) in time."""


class NetworkError(TransportError):
    """The connection failed: refused, unreachable, reset or dropped."""


class ConnectError(NetworkError):
    """The connection could not be opened (refused, unreachable, name resolution failed)."""


class ReadError(NetworkError):
    """The connection was reset or dropped while reading the response."""


class WriteError(NetworkError):
    """The connection was reset or dropped while sending the request."""


class ProxyError(TransportError):
    """The HTTP proxy refused or failed to forward the request."""


class TLSError(TransportError):
    """TLS failed: an untrusted or invalid certificate, or a failed handshake."""

    is_transient = False


class InsecureTransportError(TransportError):
    """Plain ``http`` was requested for a host that is not loopback, without the explicit opt-in."""

    is_transient = False
