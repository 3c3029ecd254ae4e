"""A raw-socket HTTP server on 127.0.0.1 that answers each connection from a script.

Raw sockets (not ``http.server``) so a test can misbehave precisely: drop the connection, send a
truncated body, or never answer.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

Action = Callable[[socket.socket], None]


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


def respond(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Action:
    def action(conn: socket.socket) -> None:
        lines = [f"HTTP/1.1 {status} Whatever"]
        all_headers = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        lines += [f"{name}: {value}" for name, value in all_headers.items()]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return action


def raw(data: bytes) -> Action:
    def action(conn: socket.socket) -> None:
        conn.sendall(data)

    return action


def drop(conn: socket.socket) -> None:
    """Close without answering."""


@dataclass
class ScriptedServer:
    actions: list[Action]
    tls: ssl.SSLContext | None = None
    requests: list[RawRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, path: str = "/token", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def hold(self, conn: socket.socket) -> None:
        """Never answer (until the test ends)."""
        self._stop.wait(5)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                self.requests.append(_read_request(conn))
                action = self.actions.pop(0) if self.actions else respond(500)
                action(conn)
            except (OSError, ValueError):
                pass
            finally:
                conn.close()


def _read_request(conn: socket.socket) -> RawRequest:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("client went away")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += conn.recv(65536)
    method, target, _ = request_line.split(" ", 2)
    return RawRequest(method, target, headers, body)


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def make(*actions: Action, tls: ssl.SSLContext | None = None) -> ScriptedServer:
        server = ScriptedServer(list(actions), tls=tls)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
