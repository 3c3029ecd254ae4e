"""A fault-injecting HTTP(S) proxy on 127.0.0.1, between a client and a real ``deviceflow serve``.

Theory of operation. The proxy listens on a loopback port and speaks just enough HTTP/1.1 to
read one request at a time from a client connection (head, then a ``Content-Length`` body;
keep-alive connections are served request after request). For each request it picks a *fault*:
from a fixed ``schedule`` first (one entry per request, in order), then at random with
probability ``rate`` from ``faults`` using its own :class:`random.Random` seeded with ``seed``.
The same seed against the same client gives the same faults, so a failing run can be replayed:
tests put the seed in every assertion message.

Faults that never reach the server (:data:`BEFORE_SERVER`) answer or break the connection
themselves; :data:`TRUNCATE` forwards the request, then delivers only half of the server's body
(with the full ``Content-Length``) and closes, which is the one fault that can lose a response
the server has already acted on (a redeemed device code, a rotated refresh token): every
exchange is logged in :attr:`FaultProxy.exchanges` so that tests can tell which failures the
faults explain.

With ``tls=`` the proxy terminates TLS with a self-signed certificate
(:func:`tests.support.tls.self_signed_cert`) and forwards plain HTTP to the server; per new
connection it may first inject a TLS fault (:data:`TLS_FAULTS`): a reset right after accept, a
reset after reading the ClientHello, or a clean close in the middle of the handshake.

Only loopback traffic, bounded: the proxy refuses to forward anywhere but 127.0.0.1, serves at
most ``max_requests`` requests and stops by itself after ``lifetime`` seconds. It never logs
request or response bodies (they hold device codes and tokens).
"""

from __future__ import annotations

import http.client
import ipaddress
import random
import socket
import ssl
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

__all__ = [
    "ALL_HTTP_FAULTS",
    "BEFORE_SERVER",
    "CLEAN",
    "DELAY",
    "DROP",
    "Exchange",
    "FaultProxy",
    "HTML_500",
    "HTML_502",
    "PASS",
    "RESET",
    "STALL",
    "STATUS_503",
    "STATUS_503_RETRY_AFTER",
    "TLS_EOF_HELLO",
    "TLS_FAULTS",
    "TLS_RESET_ACCEPT",
    "TLS_RESET_HELLO",
    "TOO_MANY",
    "TOO_MANY_RETRY_AFTER",
    "TRUNCATE",
]

PASS = "pass"  # forward untouched
DELAY = "delay"  # wait ``delay`` seconds, then forward
DROP = "drop"  # close the connection without a byte (FIN)
RESET = "reset"  # reset the connection (RST) without a byte
STALL = "stall"  # hold the connection silent for ``stall`` seconds, then close
STATUS_503 = "503"  # plain-text 503, no Retry-After
STATUS_503_RETRY_AFTER = "503+retry-after"
TOO_MANY = "429"  # 429 without Retry-After
TOO_MANY_RETRY_AFTER = "429+retry-after"
HTML_502 = "502-html"  # a gateway's HTML error page
HTML_500 = "500-html"
TRUNCATE = "truncate"  # forward, then deliver half the body and close
TLS_RESET_ACCEPT = "tls-reset-accept"
TLS_RESET_HELLO = "tls-reset-hello"
TLS_EOF_HELLO = "tls-eof-hello"

#: HTTP faults the server never sees.
BEFORE_SERVER = frozenset(
    {
        DROP,
        RESET,
        STALL,
        STATUS_503,
        STATUS_503_RETRY_AFTER,
        TOO_MANY,
        TOO_MANY_RETRY_AFTER,
        HTML_502,
        HTML_500,
    }
)
#: Every per-request fault (``STALL`` needs a client timeout shorter than ``stall``).
ALL_HTTP_FAULTS: tuple[str, ...] = (
    DELAY,
    DROP,
    RESET,
    STALL,
    STATUS_503,
    STATUS_503_RETRY_AFTER,
    TOO_MANY,
    TOO_MANY_RETRY_AFTER,
    HTML_502,
    HTML_500,
    TRUNCATE,
)
#: The faults that leave a well-formed answer or connection behind ("clean" for the schedule).
CLEAN = frozenset({PASS, DELAY})
#: Per-connection faults, injected before any HTTP when the proxy terminates TLS.
TLS_FAULTS: tuple[str, ...] = (TLS_RESET_ACCEPT, TLS_RESET_HELLO, TLS_EOF_HELLO)

_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>%d %s</title></head><body><h1>%d %s</h1>"
    b"<p>The upstream server is temporarily unable to service your request.</p>"
    b"<hr><address>nginx-ish gateway</address></body></html>"
)
_MAX_HEAD = 64 * 1024
_MAX_BODY = 1024 * 1024


@dataclass
class Exchange:
    """One request the proxy saw, and what it did with it (no bodies: they hold secrets).

    Attributes:
        index: the request's position (0 = first request through this proxy).
        kind: ``device_authorization``, ``poll``, ``refresh``, ``connection`` (a TLS fault) or
            ``other``.
        fault: the fault applied (``pass`` for none).
        forwarded: whether the request reached the server.
        upstream_status: the server's status, when it answered.
        delivered: whether the client got the server's complete answer.
    """

    index: int
    kind: str
    fault: str
    forwarded: bool = False
    upstream_status: int | None = None
    delivered: bool = False

    @property
    def lost_success(self) -> bool:
        """The server answered 200 (and acted on it) but the client never got the answer."""
        return self.forwarded and self.upstream_status == 200 and not self.delivered


class FaultProxy:
    """A threaded fault-injecting proxy to ``http://127.0.0.1:<upstream_port>``.

    Args:
        upstream_port: the real server's port on 127.0.0.1.
        seed: seeds the random fault choice (print it in assertion messages).
        rate: probability of a random fault on each request once ``schedule`` is used up.
        faults: the faults to choose from at random.
        schedule: faults for the first requests, in order (``PASS`` for a clean one).
        tls: ``(certfile, keyfile)`` to terminate TLS with; plain HTTP when ``None``.
        tls_rate: probability of a TLS fault on each new connection (TLS only).
        tls_schedule: TLS faults for the first connections, in order (``PASS`` for none).
        keep_alive: serve several requests per connection when the client asks; ``False``
            closes after every answer (so every request opens a connection: TLS faults apply).
        delay: seconds of a ``DELAY`` fault.
        stall: seconds of a ``STALL`` fault.
        max_requests: the proxy refuses (resets) connections after this many requests.
        lifetime: seconds after which the proxy stops by itself.
    """

    def __init__(
        self,
        upstream_port: int,
        *,
        seed: int,
        rate: float = 0.0,
        faults: Sequence[str] = ALL_HTTP_FAULTS,
        schedule: Sequence[str] = (),
        tls: tuple[Path, Path] | None = None,
        tls_rate: float = 0.0,
        tls_schedule: Sequence[str] = (),
        keep_alive: bool = True,
        delay: float = 0.8,
        stall: float = 3.0,
        max_requests: int = 500,
        lifetime: float = 300.0,
    ) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.seed = seed
        self.rate = rate
        self.faults = tuple(faults)
        self.schedule = list(schedule)
        self.tls_rate = tls_rate
        self.tls_schedule = list(tls_schedule)
        self.keep_alive = keep_alive
        self.delay = delay
        self.stall = stall
        self.max_requests = max_requests
        self.exchanges: list[Exchange] = []
        #: Unexpected errors inside the proxy (tests assert there are none).
        self.errors: list[str] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._connections = 0
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._context: ssl.SSLContext | None = None
        if tls is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(str(tls[0]), str(tls[1]))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._deadline = time.monotonic() + lifetime
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    # -- public --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        scheme = "https" if self._context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def injected(self) -> list[Exchange]:
        """The exchanges (and TLS connections) that got a fault."""
        with self._lock:
            return [e for e in self.exchanges if e.fault != PASS]

    def lost_successes(self) -> list[Exchange]:
        """Exchanges whose 200 answer the server gave but the client never received."""
        with self._lock:
            return [e for e in self.exchanges if e.lost_success]

    def summary(self) -> str:
        """A one-line account of the faults, for assertion messages (no secrets)."""
        with self._lock:
            parts = [f"{e.index}:{e.kind}:{e.fault}" for e in self.exchanges]
        return f"seed={self.seed} exchanges=[{' '.join(parts)}]"

    def settle(self, timeout: float = 15.0) -> bool:
        """Wait until every accepted connection has been served to the end; ``False`` on timeout.

        A client killed mid-request may still have its request in the proxy's hands (or in the
        listen backlog); after this returns, :attr:`exchanges` says what reached the server.
        """
        deadline = time.monotonic() + timeout
        time.sleep(0.25)  # longer than one turn of the accept loop: the backlog is drained
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
        return True

    def close(self) -> None:
        """Stop accepting, close every connection and wait for the worker threads."""
        self._stopping.set()
        self._acceptor.join(5)
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close_quietly(sock)
        for thread in list(self._threads):
            thread.join(5)
        self._listener.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- choosing faults ----------------------------------------------------------------------

    def _next_fault(self) -> str:
        with self._lock:
            if self.schedule:
                return self.schedule.pop(0)
            if self.faults and self._rng.random() < self.rate:
                return self._rng.choice(self.faults)
            return PASS

    def _next_tls_fault(self) -> str:
        with self._lock:
            if self.tls_schedule:
                return self.tls_schedule.pop(0)
            if self._rng.random() < self.tls_rate:
                return self._rng.choice(TLS_FAULTS)
            return PASS

    def _record(self, kind: str, fault: str) -> Exchange:
        with self._lock:
            exchange = Exchange(index=len(self.exchanges), kind=kind, fault=fault)
            self.exchanges.append(exchange)
            return exchange

    # -- serving ------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set() and time.monotonic() < self._deadline:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # the listener was closed
                return
            with self._lock:
                self._sockets.add(conn)
                over = len(self.exchanges) >= self.max_requests
            if over:
                _reset(conn)
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()
        self._stopping.set()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10.0)
            if self._context is not None:
                wrapped = self._tls(conn)
                if wrapped is None:
                    return
                conn = wrapped
                with self._lock:
                    self._sockets.add(conn)
            while not self._stopping.is_set():
                if not self._serve_one(conn):
                    return
        except (OSError, ValueError):
            pass  # the client went away, or the proxy is stopping
        except Exception as exc:  # a proxy bug or an upstream failure: the test must see it
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            _close_quietly(conn)

    def _tls(self, conn: socket.socket) -> ssl.SSLSocket | None:
        assert self._context is not None
        fault = self._next_tls_fault()
        if fault != PASS:
            self._record("connection", fault)
            if fault == TLS_RESET_ACCEPT:
                _reset(conn)
                return None
            conn.recv(4096)  # the ClientHello (or its first part)
            if fault == TLS_RESET_HELLO:
                _reset(conn)
            else:  # TLS_EOF_HELLO: a clean close in the middle of the handshake
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            return None
        try:
            return self._context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return None  # the client gave up on the handshake

    def _serve_one(self, conn: socket.socket) -> bool:
        """Serve one request; return whether the connection stays open for another."""
        request = _read_request(conn)
        if request is None:
            return False
        head, body = request
        kind = _kind(head, body)
        fault = self._next_fault()
        exchange = self._record(kind, fault)
        keep_alive = self.keep_alive and b"connection: close" not in head.lower()
        if fault == DROP:
            conn.shutdown(socket.SHUT_RDWR)
            return False
        if fault == RESET:
            _reset(conn)
            return False
        if fault == STALL:
            self._stopping.wait(self.stall)
            return False
        if fault in BEFORE_SERVER:
            conn.sendall(_synthetic(fault, keep_alive))
            return keep_alive
        if fault == DELAY:
            self._stopping.wait(self.delay)
        status, reason, headers, answer = self._forward(head, body)
        exchange.forwarded = True
        exchange.upstream_status = status
        wire = _response_head(status, reason, headers, len(answer), keep_alive)
        if fault == TRUNCATE:
            conn.sendall(wire + answer[: len(answer) // 2])
            conn.shutdown(socket.SHUT_RDWR)
            return False
        conn.sendall(wire + answer)
        exchange.delivered = True
        return keep_alive

    def _forward(self, head: bytes, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            if name.strip().lower() in _HOP_BY_HOP:
                continue
            headers.append((name.strip(), value.strip()))
        host, port = self.upstream
        assert ipaddress.ip_address(host).is_loopback  # never anywhere but loopback
        upstream = http.client.HTTPConnection(host, port, timeout=30)
        try:
            upstream.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.putheader("Connection", "close")
            upstream.endheaders(body or None)
            response = upstream.getresponse()
            answer = response.read()
            kept = [(n, v) for n, v in response.getheaders() if n.lower() not in _HOP_BY_HOP]
            return response.status, response.reason, kept, answer
        finally:
            upstream.close()


_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te"}
)


def _read_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
        if len(buffer) > _MAX_HEAD:
            return None
    head, _, body = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length > _MAX_BODY:
        return None
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head, body[:length]


def _kind(head: bytes, body: bytes) -> str:
    target = head.split(b" ", 2)[1].split(b"?")[0] if b" " in head else b""
    if target.endswith(b"/devicecode"):
        return "device_authorization"
    if target.endswith(b"/token"):
        grant = parse_qs(body.decode("latin-1")).get("grant_type", [""])[0]
        return "refresh" if grant == "refresh_token" else "poll"
    return "other"


def _synthetic(fault: str, keep_alive: bool) -> bytes:
    extra: list[tuple[str, str]] = []
    if fault in (STATUS_503, STATUS_503_RETRY_AFTER):
        status, reason, body, ctype = (
            503,
            "Service Unavailable",
            b"upstream unavailable",
            "text/plain",
        )
    elif fault in (TOO_MANY, TOO_MANY_RETRY_AFTER):
        status, reason, body, ctype = 429, "Too Many Requests", b"slow down", "text/plain"
    else:
        status = 502 if fault == HTML_502 else 500
        reason = "Bad Gateway" if status == 502 else "Internal Server Error"
        body = _HTML_PAGE % (status, reason.encode(), status, reason.encode())
        ctype = "text/html; charset=utf-8"
    if fault in (STATUS_503_RETRY_AFTER, TOO_MANY_RETRY_AFTER):
        extra.append(("Retry-After", "1"))
    headers = [("Content-Type", ctype), *extra]
    return _response_head(status, reason, headers, len(body), keep_alive) + body


def _response_head(
    status: int, reason: str, headers: list[tuple[str, str]], length: int, keep_alive: bool
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {length}")
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _reset(conn: socket.socket) -> None:
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    _close_quietly(conn)


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
