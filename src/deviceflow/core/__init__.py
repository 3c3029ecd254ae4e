"""The sans-I/O device-flow core: requests out, events in; stdlib-only, runs on MicroPython.

See ``docs/core.md`` for the state diagram and a driver loop. Nothing here opens a socket, sleeps
or reads a clock: callers pass ``now`` and send the :class:`HttpRequest` values themselves.
"""

# ``typing.TYPE_CHECKING`` without importing typing (MicroPython has none); type checkers treat
# the name as true and see every public name eagerly (``X as X``: re-exported).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._authority import Discovery as Discovery
    from ._authority import discovery_requests as discovery_requests
    from ._authority import endpoints_from_metadata as endpoints_from_metadata
    from ._authority import microsoft_endpoints as microsoft_endpoints
    from ._endpoints import DIALECT_RFC8628 as DIALECT_RFC8628
    from ._endpoints import DIALECT_V1 as DIALECT_V1
    from ._endpoints import DIALECT_V2 as DIALECT_V2
    from ._endpoints import Endpoints as Endpoints
    from ._errors import OAUTH_ERRORS as OAUTH_ERRORS
    from ._errors import AccessDeniedError as AccessDeniedError
    from ._errors import BadVerificationCodeError as BadVerificationCodeError
    from ._errors import DeviceFlowError as DeviceFlowError
    from ._errors import ExpiredTokenError as ExpiredTokenError
    from ._errors import InvalidClientError as InvalidClientError
    from ._errors import InvalidGrantError as InvalidGrantError
    from ._errors import InvalidRequestError as InvalidRequestError
    from ._errors import InvalidScopeError as InvalidScopeError
    from ._errors import LocalProtocolError as LocalProtocolError
    from ._errors import OAuthError as OAuthError
    from ._errors import RemoteProtocolError as RemoteProtocolError
    from ._errors import UnauthorizedClientError as UnauthorizedClientError
    from ._errors import UnsupportedGrantTypeError as UnsupportedGrantTypeError
    from ._errors import oauth_error_class as oauth_error_class
    from ._events import AuthorizationPending as AuthorizationPending
    from ._events import DeviceCodeIssued as DeviceCodeIssued
    from ._events import Retrying as Retrying
    from ._events import SlowDown as SlowDown
    from ._events import TokenIssued as TokenIssued
    from ._flow import DeviceFlow as DeviceFlow
    from ._messages import HttpRequest as HttpRequest
    from ._messages import HttpResponse as HttpResponse
    from ._refresh import parse_token_response as parse_token_response
    from ._refresh import refresh_request as refresh_request
    from ._state import AWAITING_DEVICE_CODE as AWAITING_DEVICE_CODE
    from ._state import AWAITING_TOKEN as AWAITING_TOKEN
    from ._state import DONE as DONE
    from ._state import ERROR as ERROR
    from ._state import IDLE as IDLE
    from ._state import WAITING as WAITING
    from ._timing import REFRESH_MARGIN as REFRESH_MARGIN
    from ._timing import START_ATTEMPTS as START_ATTEMPTS
    from ._timing import is_transient as is_transient
    from ._timing import start_retry_delay as start_retry_delay
    from ._token import Token as Token
del TYPE_CHECKING

# Where each public name lives. The names are resolved on first use (PEP 562 ``__getattr__``, which
# MicroPython's modules support too): a program that needs a few of them, such as
# ``deviceflow token`` printing a cached token (the errors, one constant), does not load the flow,
# the events and the discovery code. Submodules import one another directly, never through here.
_MODULES = {
    "Discovery": "_authority",
    "discovery_requests": "_authority",
    "endpoints_from_metadata": "_authority",
    "microsoft_endpoints": "_authority",
    "DIALECT_RFC8628": "_endpoints",
    "DIALECT_V1": "_endpoints",
    "DIALECT_V2": "_endpoints",
    "Endpoints": "_endpoints",
    "OAUTH_ERRORS": "_errors",
    "AccessDeniedError": "_errors",
    "BadVerificationCodeError": "_errors",
    "DeviceFlowError": "_errors",
    "ExpiredTokenError": "_errors",
    "InvalidClientError": "_errors",
    "InvalidGrantError": "_errors",
    "InvalidRequestError": "_errors",
    "InvalidScopeError": "_errors",
    "LocalProtocolError": "_errors",
    "OAuthError": "_errors",
    "RemoteProtocolError": "_errors",
    "UnauthorizedClientError": "_errors",
    "UnsupportedGrantTypeError": "_errors",
    "oauth_error_class": "_errors",
    "AuthorizationPending": "_events",
    "DeviceCodeIssued": "_events",
    "Retrying": "_events",
    "SlowDown": "_events",
    "TokenIssued": "_events",
    "DeviceFlow": "_flow",
    "HttpRequest": "_messages",
    "HttpResponse": "_messages",
    "parse_token_response": "_refresh",
    "refresh_request": "_refresh",
    "AWAITING_DEVICE_CODE": "_state",
    "AWAITING_TOKEN": "_state",
    "DONE": "_state",
    "ERROR": "_state",
    "IDLE": "_state",
    "WAITING": "_state",
    "REFRESH_MARGIN": "_timing",
    "START_ATTEMPTS": "_timing",
    "is_transient": "_timing",
    "start_retry_delay": "_timing",
    "Token": "_token",
}


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError("module " + repr(__name__) + " has no attribute " + repr(name))
    value = getattr(__import__(__name__ + "." + module, None, None, (name,)), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> "list[str]":
    return sorted(set(globals()) | set(_MODULES))


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
