"""A token service with Entra-sized bodies, for the board's memory tests (HTTPS on 127.0.0.1).

The emulator's tokens are smaller than Entra's: its access and ID tokens are ~1.2 KB and ~0.9 KB,
its refresh token 43 characters. :class:`EntraSized` answers the device flow, the refresh grant
and ``GET /v1.0/me`` like Microsoft's v2.0 endpoints, in Entra's member order, with a ~700
character device code (microsoft-identity reference §3) and, by default, a 3,000-character
access token, a 1,600-character ID token and a 2,000-character refresh token with
``client_info``: more than Entra issues for Graph's delegated scopes, so that the figures err on
the large side. Every device code is approved after one ``authorization_pending`` (Entra's body,
with its trace and correlation ids), or with ``slow_down=True`` after one ``slow_down`` (RFC 8628
§3.5; Entra sends none, other providers do). ``polls`` records when each token request came.
``/v1.0/me`` answers 401 to any token but the last one issued, so a call that succeeds proves the
board sent the whole token.
"""

from __future__ import annotations

import json
import secrets
import ssl
import string
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.tls import self_signed_cert

_TOKEN_CHARS = string.ascii_letters + string.digits + "-_"
_PENDING = {
    "error": "authorization_pending",
    "error_description": "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. "
    "Continue polling. Trace ID: 0f6a7b14-5c2d-4e8f-9a1b-2c3d4e5f6a7b Correlation ID: "
    "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d Timestamp: 2026-01-01 00:00:00Z",
    "error_codes": [70016],
    "timestamp": "2026-01-01 00:00:00Z",
    "trace_id": "0f6a7b14-5c2d-4e8f-9a1b-2c3d4e5f6a7b",
    "correlation_id": "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d",
    "error_uri": "https://login.microsoftonline.com/error?code=70016",
}


def _random(length: int, prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(_TOKEN_CHARS) for _ in range(length - len(prefix)))


@dataclass
class EntraSized:
    """The service; use as a context manager. ``issued`` lists the token responses sent."""

    folder: Path
    access: int = 3000
    id_token: int = 1600
    refresh: int = 2000
    slow_down: bool = False
    issued: list[dict[str, Any]] = field(default_factory=list)
    polls: list[float] = field(default_factory=list)
    _pending: set[str] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None

    @property
    def ca(self) -> Path:
        return self.folder / "proxy-cert.pem"

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> EntraSized:
        cert, key = self_signed_cert(self.folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The status and body for a POST to ``path`` with ``form``."""
        if path.endswith("/oauth2/v2.0/devicecode"):
            device_code = _random(700, "DAQABIQEAAAD")
            self._pending.add(device_code)
            return 200, {
                "user_code": "BPPVYQZMA",
                "device_code": device_code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900,
                "interval": 1,
                "message": "To sign in, use a web browser to open the page "
                "https://microsoft.com/devicelogin and enter the code BPPVYQZMA to authenticate.",
            }
        if not path.endswith("/oauth2/v2.0/token"):
            return 404, {"error": "invalid_request"}
        self.polls.append(time.monotonic())
        if form.get("device_code") in self._pending:
            self._pending.discard(form["device_code"])
            return 400, {"error": "slow_down"} if self.slow_down else _PENDING
        body = {
            "token_type": "Bearer",
            "scope": "openid profile offline_access User.Read Presence.Read email",
            "expires_in": 4753,
            "ext_expires_in": 4753,
            "access_token": _random(self.access, "eyJ0eXAiOiJKV1QiLCJub25jZSI6"),
            "refresh_token": _random(self.refresh, "1.AXkA"),
            "id_token": _random(self.id_token, "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9"),
            "client_info": _random(150, "eyJ1aWQiOi"),
        }
        self.issued.append(body)
        return 200, body

    def me(self, authorization: str) -> tuple[int, dict[str, Any]]:
        """The status and body of ``GET /v1.0/me`` with this ``Authorization`` header."""
        if not self.issued or authorization != "Bearer " + self.issued[-1]["access_token"]:
            return 401, {"error": {"code": "InvalidAuthenticationToken", "message": "no"}}
        return 200, {"displayName": "Erin Example", "mail": "erin@fabrikam.example"}


def _handler(service: EntraSized) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            pairs = self.rfile.read(length).decode().split("&")
            form = dict(pair.partition("=")[::2] for pair in pairs if pair)
            self._send(*service.answer(self.path, form))

        def do_GET(self) -> None:
            self._send(*service.me(self.headers.get("Authorization", "")))

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

    return Handler
