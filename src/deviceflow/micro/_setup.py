"""The endpoints of the authority of a ``DeviceClient``, resolved once per board by the core.

Imported when the store has no endpoints yet (a board's first sign-in), and dropped afterwards.

Theory of operation: a Microsoft-style authority gives its endpoints without a request
(``microsoft_endpoints``). An issuer's come from its discovery document, which is fetched with
none of the core's code loaded (the core only says where to ask), trimmed to the members the core
reads (:data:`METADATA`: the whole document, supported claims and scopes and the rest, is ~5 KiB
once parsed), and only then handed to ``endpoints_from_metadata`` as an ``HttpResponse``, the
core's code loaded again. The result is kept as ``[device authorization URL, token URL,
dialect]``.
"""

import json

from ._client import TransportError, _unload

#: The members of a discovery document the core reads (``_authority.endpoints_from_metadata``).
METADATA = ("issuer", "device_authorization_endpoint", "token_endpoint", "revocation_endpoint")


def endpoints(client):
    """``[device authorization URL, token URL, dialect]`` for ``client``'s authority or issuer.

    Raises:
        TransportError: no discovery document could be had.
        RemoteProtocolError: the document is not what RFC 8414 says it must be.
    """
    from deviceflow.core import _authority

    if client.issuer is None:
        found = _authority.microsoft_endpoints(authority=client.where)
    else:
        asks = [(ask.url, ask.headers) for ask in _authority.discovery_requests(client.issuer)]
        del _authority  # or the module outlives _unload()
        _unload()
        from ._http import exchange

        for url, headers in asks:
            response = exchange(client, "GET", url, headers, b"")
            if response.status == 200:
                break
        else:
            raise TransportError("no discovery document at " + client.issuer)
        document = response.body
        if isinstance(document, dict):
            document = {name: document[name] for name in METADATA if name in document}
        if not isinstance(document, bytes):  # not labelled JSON: passed on as it came
            document = json.dumps(document).encode()
        del response, exchange
        _unload()
        from deviceflow.core import _authority, _messages

        answer = _messages.HttpResponse(status=200, body=document)
        found = _authority.endpoints_from_metadata(answer, issuer=client.issuer)
    return [found.device_authorization_url, found.token_url, found.dialect]
