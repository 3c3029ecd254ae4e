"""deviceflow on MicroPython: sign a board in with the device flow, keep it signed in, call Graph.

::

    from deviceflow.micro import DeviceClient

    client = DeviceClient(CLIENT_ID, authority="https://login.microsoftonline.com/organizations",
                          scopes="User.Read offline_access", store="token.json", ca="ca.der")
    client.sign_in(lambda code: print(code.message))   # once; the tokens go to store
    status, me = client.request("GET", "https://graph.microsoft.com/v1.0/me")

This package runs on MicroPython only (``socket``, ``tls``, ``time.sleep``); the protocol is
``deviceflow.core``'s. See ``docs/micropython.md``: installing with ``mip``, the ``.mpy`` build,
memory, TLS roots. The display helper is :mod:`deviceflow.micro.display`.
"""

from deviceflow.core._errors import (
    AccessDeniedError,
    DeviceFlowError,
    ExpiredTokenError,
    OAuthError,
    RemoteProtocolError,
)

from ._client import DeviceClient, SignInRequired, TLSError, TransportError

__all__ = [
    "AccessDeniedError",
    "DeviceClient",
    "DeviceFlowError",
    "ExpiredTokenError",
    "OAuthError",
    "RemoteProtocolError",
    "SignInRequired",
    "TLSError",
    "TransportError",
]
