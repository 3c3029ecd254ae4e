"""deviceflow: the OAuth 2.0 Device Authorization Grant (RFC 8628), end to end.

The public names below are resolved on first use (PEP 562): ``import deviceflow`` costs almost
nothing, and ``from deviceflow import DeviceFlowClient`` loads the client, its transport and the
core then. The ``TYPE_CHECKING`` block gives type checkers the same names eagerly.
"""

# ``typing.TYPE_CHECKING`` without importing typing; type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:  # the public names for type checkers (``X as X``: re-exported)
    from collections.abc import Callable

    from deviceflow.client import AsyncDeviceFlowClient as AsyncDeviceFlowClient
    from deviceflow.client import DeviceFlowClient as DeviceFlowClient
    from deviceflow.core import AuthorizationPending as AuthorizationPending
    from deviceflow.core import DeviceCodeIssued as DeviceCodeIssued
    from deviceflow.core import DeviceFlow as DeviceFlow
    from deviceflow.core import Endpoints as Endpoints
    from deviceflow.core import HttpRequest as HttpRequest
    from deviceflow.core import HttpResponse as HttpResponse
    from deviceflow.core import Retrying as Retrying
    from deviceflow.core import SlowDown as SlowDown
    from deviceflow.core import Token as Token
    from deviceflow.core import TokenIssued as TokenIssued
    from deviceflow.core import discovery_requests as discovery_requests
    from deviceflow.core import endpoints_from_metadata as endpoints_from_metadata
    from deviceflow.core import microsoft_endpoints as microsoft_endpoints
    from deviceflow.core import parse_token_response as parse_token_response
    from deviceflow.core import refresh_request as refresh_request
    from deviceflow.errors import AccessDeniedError as AccessDeniedError
    from deviceflow.errors import BadVerificationCodeError as BadVerificationCodeError
    from deviceflow.errors import ConnectError as ConnectError
    from deviceflow.errors import ConnectTimeoutError as ConnectTimeoutError
    from deviceflow.errors import DeviceFlowError as DeviceFlowError
    from deviceflow.errors import ExpiredTokenError as ExpiredTokenError
    from deviceflow.errors import FlowCancelledError as FlowCancelledError
    from deviceflow.errors import InsecureTransportError as InsecureTransportError
    from deviceflow.errors import InvalidClientError as InvalidClientError
    from deviceflow.errors import InvalidGrantError as InvalidGrantError
    from deviceflow.errors import InvalidRequestError as InvalidRequestError
    from deviceflow.errors import InvalidScopeError as InvalidScopeError
    from deviceflow.errors import LocalProtocolError as LocalProtocolError
    from deviceflow.errors import NetworkError as NetworkError
    from deviceflow.errors import OAuthError as OAuthError
    from deviceflow.errors import ProxyError as ProxyError
    from deviceflow.errors import ReadError as ReadError
    from deviceflow.errors import ReadTimeoutError as ReadTimeoutError
    from deviceflow.errors import RemoteProtocolError as RemoteProtocolError
    from deviceflow.errors import TLSError as TLSError
    from deviceflow.errors import TransportError as TransportError
    from deviceflow.errors import TransportTimeoutError as TransportTimeoutError
    from deviceflow.errors import UnauthorizedClientError as UnauthorizedClientError
    from deviceflow.errors import UnsupportedGrantTypeError as UnsupportedGrantTypeError
    from deviceflow.errors import WriteError as WriteError
    from deviceflow.transports import AsyncUrllibTransport as AsyncUrllibTransport
    from deviceflow.transports import MockTransport as MockTransport
    from deviceflow.transports import UrllibTransport as UrllibTransport
del TYPE_CHECKING

__version__ = "0.1.0.dev0"

# Where each public name lives, resolved by ``__getattr__`` on first use; ``__all__`` is these.
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


__all__ = sorted([*_MODULES, "__version__"])


def _lazy_attributes(
    namespace: dict[str, object], modules: dict[str, str], *, uncached: tuple[str, ...] = ()
) -> "tuple[Callable[[str], object], Callable[[], list[str]]]":
    """PEP 562 ``__getattr__`` and ``__dir__`` for a package whose public names live elsewhere.

    Used by this package and its subpackages (``cache``, ``transports``), which keep their start-up
    as small: the first use of a name imports its module and keeps the value in ``namespace``.

    Args:
        namespace: the package's ``globals()``.
        modules: each public name and the module that defines it (absolute, or relative to the
            package).
        uncached: modules whose names are looked up again on every use (an optional dependency
            that may fail to import, so that its install hint shows each time).
    """
    package = namespace["__name__"]
    assert isinstance(package, str)

    def __getattr__(name: str) -> object:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module, package), name)
        if module not in uncached:
            namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *modules})

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy_attributes(globals(), _MODULES)
