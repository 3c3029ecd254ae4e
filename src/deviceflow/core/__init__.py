"""The sans-I/O device-flow core: requests out, events in; stdlib-only, runs on MicroPython.

See ``docs/core.md`` for the state diagram and a driver loop. Nothing here opens a socket, sleeps
or reads a clock: callers pass ``now`` and send the :class:`HttpRequest` values themselves.
"""

from ._authority import (
    Discovery,
    discovery_requests,
    endpoints_from_metadata,
    microsoft_endpoints,
)
from ._endpoints import DIALECT_RFC8628, DIALECT_V1, DIALECT_V2, Endpoints
from ._errors import (
    OAUTH_ERRORS,
    AccessDeniedError,
    BadVerificationCodeError,
    DeviceFlowError,
    ExpiredTokenError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    LocalProtocolError,
    OAuthError,
    RemoteProtocolError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
    oauth_error_class,
)
from ._events import AuthorizationPending, DeviceCodeIssued, Retrying, SlowDown, TokenIssued
from ._flow import DeviceFlow
from ._messages import HttpRequest, HttpResponse
from ._refresh import parse_token_response, refresh_request
from ._state import AWAITING_DEVICE_CODE, AWAITING_TOKEN, DONE, ERROR, IDLE, WAITING
from ._timing import REFRESH_MARGIN, START_ATTEMPTS, is_transient, start_retry_delay
from ._token import Token

__all__ = [
    "AWAITING_DEVICE_CODE",
    "AWAITING_TOKEN",
    "DIALECT_RFC8628",
    "DIALECT_V1",
    "DIALECT_V2",
    "DONE",
    "ERROR",
    "IDLE",
    "OAUTH_ERRORS",
    "REFRESH_MARGIN",
    "START_ATTEMPTS",
    "WAITING",
    "AccessDeniedError",
    "AuthorizationPending",
    "BadVerificationCodeError",
    "DeviceCodeIssued",
    "DeviceFlow",
    "DeviceFlowError",
    "Discovery",
    "Endpoints",
    "ExpiredTokenError",
    "HttpRequest",
    "HttpResponse",
    "InvalidClientError",
    "InvalidGrantError",
    "InvalidRequestError",
    "InvalidScopeError",
    "LocalProtocolError",
    "OAuthError",
    "RemoteProtocolError",
    "Retrying",
    "SlowDown",
    "Token",
    "TokenIssued",
    "UnauthorizedClientError",
    "UnsupportedGrantTypeError",
    "discovery_requests",
    "endpoints_from_metadata",
    "is_transient",
    "microsoft_endpoints",
    "oauth_error_class",
    "parse_token_response",
    "refresh_request",
    "start_retry_delay",
]
