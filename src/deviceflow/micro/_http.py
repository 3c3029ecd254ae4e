"""One HTTP/1.1 exchange over MicroPython's ``socket`` and ``ssl``, for a board with little RAM.

Theory of operation: :func:`send` takes the core's :class:`HttpRequest`, opens one connection
(``Connection: close``: a board rarely has the RAM to keep two TLS sessions), writes the request,
reads the status line and the few headers the client needs, then the body with a single
``read(Content-Length)`` so the body exists once in memory, as one ``bytes`` object. It returns
the core's :class:`HttpResponse`. Every failure becomes :class:`TransportError` (or
:class:`TLSError` for a certificate the board cannot verify); no bare ``OSError`` escapes.

TLS is always verified: ``CERT_REQUIRED`` with the CA given as ``ca`` (a PEM or DER file) or, when
the port has them, the platform's default roots. A port without default roots and no ``ca`` fails
the handshake with a :class:`TLSError` that says so; verification is never switched off. Plain
``http`` is accepted for loopback hosts only (tests, a local emulator).
"""

import socket

from deviceflow.core._errors import DeviceFlowError
from deviceflow.core._messages import HttpResponse

#: The response headers kept for the core (the rest are read and dropped, to save RAM).
_KEEP = (b"content-type", b"retry-after", b"date", b"www-authenticate")
#: The longest body accepted; a device-flow or Graph answer is a few kilobytes.
MAX_BODY = 32 * 1024
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


class TransportError(DeviceFlowError):
    """The request did not complete: refused, reset, dropped, timed out or cut short."""


class TLSError(TransportError):
    """The server's certificate could not be verified, or the TLS handshake failed."""


def _parts(url):
    # The core checked the URLs it built (split_url); importing it here would cost ~8 KiB of RAM
    # on every request, so only the pieces a socket needs are taken apart.
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if authority.startswith("["):
        host, _, port = authority[1:].partition("]")
        port = port[1:]
    else:
        host, _, port = authority.partition(":")
    if scheme not in ("http", "https") or not host:
        raise ValueError("not an http(s) URL: " + url)
    port = int(port) if port else (443 if scheme == "https" else 80)
    return scheme, authority, host, port, slash + path


def load_ca(path):
    """The DER bytes of the CA certificate in ``path`` (a PEM or DER file).

    MicroPython's ``ssl`` takes a CA as DER only; a PEM file is decoded here.

    Raises:
        TLSError: the file cannot be read or holds no certificate.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        raise TLSError("cannot read the CA file " + path)
    start = data.find(b"-----BEGIN CERTIFICATE-----")
    if start < 0:
        return data
    from binascii import a2b_base64

    try:
        return a2b_base64(data[start + 27 : data.find(b"-----END", start)])
    except ValueError:
        raise TLSError("the CA file " + path + " is not a PEM certificate")


def _context(cadata):
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if cadata is not None:
        ctx.load_verify_locations(cadata=cadata)
    elif hasattr(ctx, "load_default_certs"):
        ctx.load_default_certs()
    return ctx


def send(request, cadata=None, timeout=20):
    """Send ``request`` and return the response.

    Args:
        request: the core's ``HttpRequest``.
        cadata: the DER CA certificate to verify ``https`` servers with (``None``: the
            platform's roots, where the port has any).
        timeout: seconds allowed for each socket operation.

    Returns:
        The core's ``HttpResponse`` (status, the headers in ``_KEEP``, the body).

    Raises:
        TransportError: the connection failed, broke or the answer was cut short.
        TLSError: the certificate could not be verified (not worth retrying).
        ValueError: plain ``http`` to a host that is not loopback.
    """
    scheme, authority, host, port, target = _parts(request.url)
    if scheme == "http" and host not in _LOOPBACK:
        raise ValueError("refusing plain http to " + host + ": use https")
    sock = None
    stage = "connect"
    try:
        address = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
        sock = socket.socket(address[0], socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(address[-1])
        if scheme == "https":
            stage = "tls"
            sock = _context(cadata).wrap_socket(sock, server_hostname=host)
        stage = "write"
        _write_request(sock, request, authority, target or "/")
        stage = "read"
        return _read_response(sock)
    except (OSError, ValueError) as exc:
        # mbedtls reports an untrusted certificate as ValueError, a missing CA as OSError.
        raise _error(stage, exc, authority)
    finally:
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


def _write_request(sock, request, authority, target):
    head = request.method + " " + target + " HTTP/1.1\r\nHost: " + authority
    head += "\r\nConnection: close\r\nUser-Agent: deviceflow-micro\r\n"
    for name, value in request.headers:
        head += name + ": " + value + "\r\n"
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        head += "Content-Length: " + str(len(request.body)) + "\r\n"
    sock.write(head.encode() + b"\r\n")
    del head
    if request.body:
        sock.write(request.body)


def _read_response(sock):
    line = sock.readline()
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise OSError("no HTTP status line")
    status = _number(parts[1])
    headers = []
    length = None
    chunked = False
    while True:
        line = sock.readline()
        if not line:
            raise OSError("connection closed in the headers")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = _number(value.strip())
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name in _KEEP:
            headers.append((name.decode(), value.strip().decode()))
    del line
    if chunked:
        body = _read_chunked(sock)
    elif length is not None:
        if length > MAX_BODY:
            raise OSError("response body too large")
        body = sock.read(length) if length else b""
        if len(body) != length:
            raise OSError("connection closed in the body")
    else:
        body = sock.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise OSError("response body too large")
    return HttpResponse(status=status, headers=headers, body=body)


def _read_chunked(sock):
    chunks = []
    total = 0
    while True:
        size = _number(sock.readline().split(b";")[0].strip(), 16)
        if size == 0:
            break
        total += size
        if total > MAX_BODY:
            raise OSError("response body too large")
        chunk = sock.read(size)
        if len(chunk) != size:
            raise OSError("connection closed in the body")
        chunks.append(chunk)
        sock.readline()
    # The only place two copies coexist: a chunked answer (our server sends Content-Length).
    return b"".join(chunks)


def _number(text, base=10):
    try:
        return int(text, base)
    except ValueError:
        raise OSError("malformed HTTP answer")


def _error(stage, exc, authority):
    text = " ".join(str(exc).split())
    if stage == "tls" and (isinstance(exc, ValueError) or "CA_CHAIN" in text or "X509" in text):
        return TLSError(
            "cannot verify the certificate of " + authority + " (" + text + "); give ca= the "
            "CA file that signed it"
        )
    return TransportError(stage + " failed for " + authority + ": " + text)
