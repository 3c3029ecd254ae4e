"""deviceflow: the OAuth 2.0 Device Authorization Grant (RFC 8628), end to end.

The public names below are resolved on first use (PEP 562): ``import deviceflow`` costs almost
nothing, and ``from deviceflow import DeviceFlowClient`` loads the client, its transport and the
core then. The ``TYPE_CHECKING`` block gives type checkers the same names eagerly.
"""

# ``typing.TYPE_CHECKING`` without importing typing; type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from deviceflow.client import AsyncDeviceFlowClient, DeviceFlowClient
    from deviceflow.core import (
        AuthorizationPending,
        DeviceCodeIssued,
        DeviceFlow,
        Endpoints,
        HttpRequest,
        HttpResponse,
        Retrying,
        SlowDown,
        Token,
        TokenIssued,
        discovery_requests,
        endpoints_from_metadata,
        microsoft_endpoints,
        parse_token_response,
        refresh_request,
    )
    from deviceflow.errors import (
        AccessDeniedError,
        BadVerificationCodeError,
        ConnectError,
        ConnectTimeoutError,
        DeviceFlowError,
        ExpiredTokenError,
        FlowCancelledError,
        InsecureTransportError,
        InvalidClientError,
        InvalidGrantError,
        InvalidRequestError,
        InvalidScopeError,
        LocalProtocolError,
        NetworkError,
        OAuthError,
        ProxyError,
        ReadError,
        ReadTimeoutError,
        RemoteProtocolError,
        TLSError,
        TransportError,
        TransportTimeoutError,
        UnauthorizedClientError,
        UnsupportedGrantTypeError,
        WriteError,
    )
    from deviceflow.transports import AsyncUrllibTransport, MockTransport, UrllibTransport
del TYPE_CHECKING

__version__ = "0.1.0.dev0"

__all__ = [
    "AccessDeniedError",
    "AsyncDeviceFlowClient",
    "AsyncUrllibTransport",
    "AuthorizationPending",
    "BadVerificationCodeError",
    "ConnectError",
    "ConnectTimeoutError",
    "DeviceCodeIssued",
    "DeviceFlow",
    "DeviceFlowClient",
    "DeviceFlowError",
    "Endpoints",
    "ExpiredTokenError",
    "FlowCancelledError",
    "HttpRequest",
    "HttpResponse",
    "InsecureTransportError",
    "InvalidClientError",
    "InvalidGrantError",
    "InvalidRequestError",
    "InvalidScopeError",
    "LocalProtocolError",
    "MockTransport",
    "NetworkError",
    "OAuthError",
    "ProxyError",
    "ReadError",
    "ReadTimeoutError",
    "RemoteProtocolError",
    "Retrying",
    "SlowDown",
    "TLSError",
    "Token",
    "TokenIssued",
    "TransportError",
    "TransportTimeoutError",
    "UnauthorizedClientError",
    "UnsupportedGrantTypeError",
    "UrllibTransport",
    "WriteError",
    "__version__",
    "discovery_requests",
    "endpoints_from_metadata",
    "microsoft_endpoints",
    "parse_token_response",
    "refresh_request",
]

# Where each public name lives; resolved by ``__getattr__`` on first use.
_MODULES: dict[str, str] = {
    "AsyncDeviceFlowClient": "deviceflow.client",
    "DeviceFlowClient": "deviceflow.client",
    "AuthorizationPending": "deviceflow.core",
    "DeviceCodeIssued": "deviceflow.core",
    "DeviceFlow": "deviceflow.core",
    "Endpoints": "deviceflow.core",
    "HttpRequest": "deviceflow.core",
    "HttpResponse": "deviceflow.core",
    "Retrying": "deviceflow.core",
    "SlowDown": "deviceflow.core",
    "Token": "deviceflow.core",
    "TokenIssued": "deviceflow.core",
    "discovery_requests": "deviceflow.core",
    "endpoints_from_metadata": "deviceflow.core",
    "microsoft_endpoints": "deviceflow.core",
    "parse_token_response": "deviceflow.core",
    "refresh_request": "deviceflow.core",
    "AccessDeniedError": "deviceflow.errors",
    "BadVerificationCodeError": "deviceflow.errors",
    "ConnectError": "deviceflow.errors",
    "ConnectTimeoutError": "deviceflow.errors",
    "DeviceFlowError": "deviceflow.errors",
    "ExpiredTokenError": "deviceflow.errors",
    "FlowCancelledError": "deviceflow.errors",
    "InsecureTransportError": "deviceflow.errors",
    "InvalidClientError": "deviceflow.errors",
    "InvalidGrantError": "deviceflow.errors",
    "InvalidRequestError": "deviceflow.errors",
    "InvalidScopeError": "deviceflow.errors",
    "LocalProtocolError": "deviceflow.errors",
    "NetworkError": "deviceflow.errors",
    "OAuthError": "deviceflow.errors",
    "ProxyError": "deviceflow.errors",
    "ReadError": "deviceflow.errors",
    "ReadTimeoutError": "deviceflow.errors",
    "RemoteProtocolError": "deviceflow.errors",
    "TLSError": "deviceflow.errors",
    "TransportError": "deviceflow.errors",
    "TransportTimeoutError": "deviceflow.errors",
    "UnauthorizedClientError": "deviceflow.errors",
    "UnsupportedGrantTypeError": "deviceflow.errors",
    "WriteError": "deviceflow.errors",
    "AsyncUrllibTransport": "deviceflow.transports",
    "MockTransport": "deviceflow.transports",
    "UrllibTransport": "deviceflow.transports",
}


def __getattr__(name: str) -> object:
    """Import the module that defines public ``name``, keep the value here, and return it.

    Raises:
        AttributeError: ``name`` is not a public name of deviceflow.
    """
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'deviceflow' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
