"""One HTTP/1.1 exchange over MicroPython's ``socket`` and ``tls``, for a board with little RAM.

Theory of operation: :func:`send` opens one connection (``Connection: close``: a board rarely has
the RAM to keep two TLS sessions) and writes the request a line at a time, so no string ever holds
the whole head. :class:`Response` reads the status line and the few headers the client needs,
then the body, being itself the stream ``json.load`` reads from: it ends where the body ends
(``Content-Length``, chunked, or the server closing). A JSON answer is thus parsed straight off
the socket and the body never exists in memory as bytes or text, only as the parsed value (a
token response's members, not the response as well). Other answers are kept as ``bytes``.

Every failure becomes :class:`TransportError` (or :class:`TLSError` for a certificate the board
cannot verify); no bare ``OSError`` escapes. A body cut short is a :class:`TransportError` too
(worth retrying); a complete body labelled JSON that does not parse is the core's
``RemoteProtocolError``.

TLS is always verified, with the client's context (``_setup.context``); plain ``http`` is
accepted for loopback hosts only (tests, a local emulator). The heap figures behind these choices
are in ``docs/micropython.md``.
"""

import io
import json
import socket
import time

from deviceflow.core._errors import RemoteProtocolError
from micropython import const

from ._client import TLSError, TransportError

#: The response headers kept (the rest are read and dropped, to save RAM).
_KEEP = (b"content-type", b"retry-after", b"date")
#: The longest body accepted; a device-flow or Graph answer is a few kilobytes.
_MAX_BODY = const(32768)
#: Attempts for one request outside the polling loop, and the first pause between two.
_ATTEMPTS = const(4)
_FIRST_PAUSE = const(1)
#: The longest pause a ``Retry-After`` may impose on a request outside the polling loop.
_MAX_PAUSE = const(30)
_TRANSIENT = (408, 429, 500, 502, 503, 504)


class Response(io.IOBase):
    """One answer: ``status``, the kept ``headers`` (lower-case names) and ``body``.

    ``body`` is the parsed value of a JSON answer (with ``parse``), else ``bytes``. ``status``,
    ``body`` (as bytes) and :meth:`header` are what the core's decoders read from an
    ``HttpResponse``. While the body is read, ``left`` counts the bytes left of it
    (``Content-Length``) or of the current chunk (``None``: until the server closes), and ``cut``
    tells a body cut short from a bad one.
    """

    def __init__(self, sock, parse):
        self.sock = sock
        parts = sock.readline().split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise OSError("no HTTP status line")
        self.status = _number(parts[1])
        self.headers = []
        self.left = None
        self.chunked = False
        while True:
            line = sock.readline()
            if not line:
                raise OSError("connection closed in the headers")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self.left = _number(value.strip())
            elif name == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
            elif name in _KEEP:
                self.headers.append((name.decode(), value.strip().decode()))
        del parts, line
        if self.chunked:
            self.left = None
        self.seen = 0
        self.cut = False
        if parse and self.left != 0 and "json" in (self.header("content-type") or ""):
            try:
                self.body = json.load(self)
            except ValueError:
                if self.cut:
                    raise OSError("connection closed in the body")
                raise RemoteProtocolError("the answer is not the JSON it says", status=self.status)
        else:
            self.body = b""
            buf = bytearray(512)
            count = self.readinto(buf)
            while count:
                self.body += buf[:count]
                count = self.readinto(buf)
            if self.cut:
                raise OSError("connection closed in the body")
        self.sock = None

    def readinto(self, buf):
        left = self.left
        if self.chunked and not left:
            if left == 0:
                self.sock.readline()  # the CRLF that ends a chunk
            left = self.left = _number(self.sock.readline().split(b";")[0].strip(), 16)
            self.chunked = left != 0  # a zero-size chunk ends the body (trailers are ignored)
        if left == 0:
            return 0
        if left is not None and left < len(buf):
            buf = memoryview(buf)[:left]
        count = self.sock.readinto(buf)
        if not count:
            self.cut = left is not None
            return 0
        self.seen += count
        if self.seen > _MAX_BODY:
            raise OSError("response body too large")
        if left is not None:
            self.left = left - count
        return count

    def header(self, name):
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None


def send(method, url, headers, body, tls=None, timeout=20, parse=True):
    """Send one request and return its :class:`Response`.

    Args:
        method: ``"GET"``, ``"POST"``, ...
        url: the absolute ``http(s)`` URL.
        headers: ``(name, value)`` pairs to send besides ``Host``, ``Connection`` and
            ``Content-Length``.
        body: the request body (``bytes`` or ``str``; empty for none).
        tls: the ``_setup.context`` to verify ``https`` servers with (``None``: one with the
            platform's roots, where the port has any).
        timeout: seconds allowed for each socket operation.
        parse: parse a JSON answer (``False``: every body as ``bytes``).

    Raises:
        TransportError: the connection failed, broke or the answer was cut short.
        TLSError: the certificate could not be verified (not worth retrying).
        RemoteProtocolError: a complete answer labelled JSON is not JSON.
        ValueError: plain ``http`` to a host that is not loopback.
    """
    # The URLs come checked (the core's split_url) from the endpoints, or from the caller: only
    # what a socket needs is taken apart here.
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    authority, mark, query = authority.partition("?")
    if mark:  # http://host?query
        path = mark + query + slash + path
    if scheme not in ("http", "https") or not authority:
        raise ValueError("not an http(s) URL: " + url)
    if authority.startswith("["):
        host, _, port = authority[1:].partition("]")
        port = port[1:]
    else:
        host, _, port = authority.partition(":")
    if scheme == "http" and host not in ("localhost", "127.0.0.1", "::1"):
        raise ValueError("refusing plain http to " + host + ": use https")
    port = int(port) if port else (443 if scheme == "https" else 80)
    sock = None
    stage = "connect"
    try:
        address = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
        sock = socket.socket(address[0], socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(address[-1])
        if scheme == "https":
            stage = "tls"
            if tls is None:
                from ._setup import context

                tls = context(None)
            sock = tls.wrap_socket(sock, server_hostname=host)
        stage = "write"
        sock.write(method + " /" + path + " HTTP/1.1\r\n")
        sock.write("Host: " + authority + "\r\nConnection: close\r\n")
        for name, value in headers:
            sock.write(name + ": ")
            sock.write(value)  # a bearer token: 1-3 KB, not copied again to add a line end
            sock.write("\r\n")
        if body or method in ("POST", "PUT", "PATCH"):
            sock.write("Content-Length: " + str(len(body)) + "\r\n")
        sock.write("\r\n")
        if body:
            sock.write(body)
        stage = "read"
        return Response(sock, parse)
    except (OSError, ValueError) as exc:
        # mbedtls reports an untrusted certificate as ValueError, a missing CA as OSError.
        text = " ".join(str(exc).split())
        if stage == "tls" and (isinstance(exc, ValueError) or "CA_CHAIN" in text or "X509" in text):
            raise TLSError(
                "cannot verify the certificate of " + authority + " (" + text + "); give ca= "
                "the CA file that signed it"
            )
        raise TransportError(stage + " failed for " + authority + ": " + text)
    finally:
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


def exchange(client, method, url, headers, body, parse=True):
    """:func:`send` with ``client``'s TLS context and timeout, retrying what is worth it.

    A dropped connection, 408, 429 and 5xx are retried (four attempts in all) after 1, 2, 4 s,
    or after what ``Retry-After`` says, up to :data:`_MAX_PAUSE`; the polling loop has rules of its
    own (``_grant.poll``).
    """
    pause = _FIRST_PAUSE
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            response = send(method, url, headers, body, client._tls, client.timeout, parse)
        except TLSError:
            raise
        except TransportError:
            if attempt == _ATTEMPTS:
                raise
        else:
            if response.status not in _TRANSIENT:
                return response
            if attempt == _ATTEMPTS:
                raise TransportError("HTTP " + str(response.status) + " from " + url)
            if response.header("Retry-After") is not None:
                from deviceflow.core._codec import retry_after

                after = retry_after(response)
                if after is not None:
                    pause = min(max(after, pause), _MAX_PAUSE)
            del response
        time.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE)
    raise AssertionError("unreachable")


def _number(text, base=10):
    try:
        return int(text, base)
    except ValueError:
        raise OSError("malformed HTTP answer")
