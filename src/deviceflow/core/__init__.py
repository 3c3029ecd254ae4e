"""The sans-I/O device-flow core: requests out, events in; stdlib-only, runs on MicroPython."""

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
from ._messages import HttpRequest, HttpResponse

__all__ = [
    "OAUTH_ERRORS",
    "AccessDeniedError",
    "BadVerificationCodeError",
    "DeviceFlowError",
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
    "UnauthorizedClientError",
    "UnsupportedGrantTypeError",
    "oauth_error_class",
]
