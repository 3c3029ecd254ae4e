"""What a ``DeviceClient`` sets up once: its TLS context, and its authority's endpoints.

Imported when the client is made (with ``ca``) and when the store has no endpoints yet (a board's
first sign-in), and dropped afterwards.

TLS is always verified: ``CERT_REQUIRED``, with the CA given as ``ca`` (a PEM or DER file) or,
where the port has them, the platform's default roots; MicroPython's ports have none, so without
``ca`` the handshake fails with a ``TLSError`` that says so. Verification is never switched off.

Endpoints: a Microsoft-style authority gives its endpoints without a request
(``microsoft_endpoints``). An issuer's come from its discovery document, which is fetched with
none of the core's code loaded (the core only says where to ask), trimmed to the members the core
reads (:data:`METADATA`: the whole document, supported claims and scopes and the rest, is ~5 KiB
once parsed), and only then handed to ``endpoints_from_metadata`` as an ``HttpResponse``, the
core's code loaded again. The result is kept as ``[device authorization URL, token URL,
dialect]``.
"""

import json

from ._client import TLSError, TransportError, _unload

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


def context(ca):
    """A TLS context that verifies servers against the CA file ``ca`` (PEM or DER).

    ``None`` gives the platform's default roots, where the port has any. A client keeps one for
    all its connections: it is the one large object of a TLS connection on the heap (~3 KiB),
    better allocated once, early, than per request in a heap that has become fragmented. It is
    ``tls.SSLContext`` itself (MicroPython 1.23 and later), without the ``ssl`` module's wrapper
    (1 KiB more of heap); ``tls`` takes a CA as DER only, so a PEM file is decoded here.

    Raises:
        TLSError: the file cannot be read or holds no certificate.
    """
    import tls

    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    if ca is None:
        if hasattr(ctx, "load_default_certs"):
            ctx.load_default_certs()
        return ctx
    try:
        with open(ca, "rb") as f:
            der = f.read()
        start = der.find(b"-----BEGIN CERTIFICATE-----")
        if start >= 0:
            from binascii import a2b_base64

            der = a2b_base64(der[start + 27 : der.find(b"-----END", start)])
        ctx.load_verify_locations(der)
    except (OSError, ValueError) as exc:
        raise TLSError("cannot load the CA file " + ca + " (" + str(exc) + ")")
    return ctx
