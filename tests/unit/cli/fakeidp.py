"""An in-memory identity provider + Graph for in-process CLI tests (behind a MockTransport)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from deviceflow.cache import FileTokenCache
from deviceflow.cli import main
from deviceflow.cli.context import World
from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.transports import MockTransport

BASE = "http://idp.test"
CLIENT_ID = "cli-test"


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> HttpResponse:
    data = b"" if body is None else json.dumps(body).encode()
    return HttpResponse(
        status=status, headers={"Content-Type": "application/json", **(headers or {})}, body=data
    )


class FakeIdP:
    """Device authorization, token, refresh, revocation, discovery and Graph ``/v1.0/me``.

    ``poll_script`` lists what successive device-code polls answer: ``"pending"``,
    ``"slow_down"``, ``"denied"``, ``"expired"``, ``"503"`` or ``"ok"``.
    """

    def __init__(self, poll_script: list[str] | None = None) -> None:
        self.poll_script = list(poll_script or ["pending", "ok"])
        self.issued = 0
        self.refresh_grants: list[dict[str, str]] = []
        self.revoked: list[str] = []
        self.graph_calls: list[HttpRequest] = []
        self.refresh_answer: Callable[[], HttpResponse] | None = None
        self.interval: int | None = 5
        self.complete = True
        self.graph_status: list[int] = []

    def tokens(self, scope: str) -> dict[str, Any]:
        self.issued += 1
        return {
            "access_token": f"access-{self.issued}",
            "refresh_token": f"refresh-{self.issued}",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": scope,
            "id_token": _jwt(
                {"name": "Adele Vance", "preferred_username": "adele@demo.example", "oid": "u1"}
            ),
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        url = request.url
        form = dict(parse_qsl(request.body.decode())) if request.method == "POST" else {}
        if url.endswith("/.well-known/openid-configuration"):
            return reply(
                200,
                {
                    "issuer": f"{BASE}/rfc",
                    "device_authorization_endpoint": f"{BASE}/rfc/device",
                    "token_endpoint": f"{BASE}/rfc/token",
                    "revocation_endpoint": f"{BASE}/rfc/revoke",
                },
            )
        if url.endswith(("/devicecode", "/device")):
            body: dict[str, Any] = {
                "device_code": "dc-secret",
                "user_code": "BCDF-GHJK",
                "verification_uri": f"{BASE}/devicelogin",
                "expires_in": 900,
            }
            if self.interval is not None:
                body["interval"] = self.interval
            if self.complete:
                body["verification_uri_complete"] = f"{BASE}/devicelogin?code=BCDF-GHJK"
            return reply(200, body)
        if url.endswith("/token"):
            if form.get("grant_type") == "refresh_token":
                self.refresh_grants.append(form)
                if self.refresh_answer is not None:
                    return self.refresh_answer()
                return reply(200, self.tokens(form.get("scope", "User.Read")))
            step = self.poll_script.pop(0) if self.poll_script else "ok"
            if step == "ok":
                return reply(200, self.tokens("User.Read openid profile offline_access"))
            if step == "503":
                return reply(503, {"error": "temporarily_unavailable"}, {"Retry-After": "2"})
            error = {
                "pending": "authorization_pending",
                "slow_down": "slow_down",
                "denied": "access_denied",
                "expired": "expired_token",
            }[step]
            return reply(400, {"error": error, "error_description": f"{error} says the test"})
        if url.endswith("/revoke"):
            self.revoked.append(form.get("token", ""))
            return reply(200)
        if "/v1.0/" in url:
            self.graph_calls.append(request)
            if self.graph_status:
                status = self.graph_status.pop(0)
                return reply(status, {"error": {"code": "InvalidAuthenticationToken"}})
            if url.endswith("/v1.0/users"):
                return reply(200, {"value": [{"id": "1"}], "@odata.nextLink": f"{url}?page=2"})
            if url.endswith("?page=2"):
                return reply(200, {"value": [{"id": "2"}]})
            if request.method == "POST":
                return reply(201, json.loads(request.body))
            return reply(
                200,
                {
                    "displayName": "Adele Vance",
                    "userPrincipalName": "adele@demo.example",
                    "mail": "adele@demo.example",
                    "id": "u1",
                },
            )
        return reply(404, {"error": "not_found"})


class Tty(io.StringIO):
    """A captured stream that says it is a UTF-8 terminal."""

    encoding = "utf-8"  # type: ignore[assignment]

    def isatty(self) -> bool:
        return True


class Harness:
    """Runs ``deviceflow`` in-process against :class:`FakeIdP` with fake clocks."""

    def __init__(self, tmp_path: Path, idp: FakeIdP | None = None, *, tty: bool = False) -> None:
        self.idp = idp or FakeIdP()
        self.transport = MockTransport(self.idp)
        self.now = 1_000_000.0
        self.mono = 500.0
        self.tmp_path = tmp_path
        self.cache_dir = tmp_path / "cache"
        self.tty = tty
        self.environ = {
            "DEVICEFLOW_CLIENT_ID": CLIENT_ID,
            "DEVICEFLOW_AUTHORITY": f"{BASE}/demo",
            "DEVICEFLOW_GRAPH_URL": BASE,
            "DEVICEFLOW_CACHE": str(self.cache_dir),
        }
        self.stdout: io.StringIO = io.StringIO()
        self.stderr: io.StringIO = io.StringIO()

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds

    def run(self, *args: str) -> int:
        return main(list(args), world=self.world())

    def world(self) -> World:
        """A fresh world on the harness's clocks, transport and streams."""
        self.stdout = Tty() if self.tty else io.StringIO()
        self.stderr = io.StringIO()
        return World(
            stdout=self.stdout,
            stderr=self.stderr,
            environ=self.environ,
            home=self.tmp_path,
            clock=lambda: self.now,
            monotonic=lambda: self.mono,
            sleep=self.sleep,
            make_transport=lambda: self.transport,
            resolve=self.resolve,
        )

    def resolve(self, host: str, port: int, **_: Any) -> list[Any]:
        """Name lookups for ``deviceflow doctor``: the fake host is at a documentation address."""
        if host != "idp.test":
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return [(2, 1, 6, "", ("192.0.2.1", port))]

    def cache(self) -> FileTokenCache:
        return FileTokenCache(self.cache_dir)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.getvalue().splitlines() if line]
