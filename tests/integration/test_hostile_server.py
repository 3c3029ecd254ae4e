"""Both clients, over both real transports, against a hostile HTTP server on 127.0.0.1.

The server speaks Microsoft's v1 dialect with string numbers (``"expires_in": "900"``,
``"interval": "1"``, ``verification_url``), then answers the polls in this order: HTTP 503 with
an HTML page, a dropped connection (closed without a byte), HTTP 429 with ``Retry-After: 1``,
``slow_down``, ``authorization_pending``, and finally a token. The clients must come back with
the token, and the server checks the spacing of the polls it saw: the interval is respected,
transient faults back off, ``Retry-After`` is honoured, and ``slow_down`` adds 5 s that stay.

Real time passes here (about 25 s, dominated by two polls at the slowed-down interval), so the
sync and the async client run at the same time, each against its own server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from deviceflow.client import AsyncDeviceFlowClient, DeviceFlowClient
from deviceflow.core import AuthorizationPending, Retrying, SlowDown, microsoft_endpoints
from deviceflow.transports import (
    AsyncHttpxTransport,
    AsyncUrllibTransport,
    HttpxTransport,
    UrllibTransport,
)

DEVICE_CODE = "DAQABAAEAAAD--hostile-device-code"
USER_CODE = "FJKLMNPQR"
ACCESS_TOKEN = "hostile-access-token-value"
REFRESH_TOKEN = "hostile-refresh-token-value"
RESOURCE = "https://graph.microsoft.com"
TOLERANCE = 0.05  # timer and scheduling jitter on the lower bounds


class HostileServer:
    """A stdlib HTTP server in a thread that answers from the script in the module docstring."""

    def __init__(self) -> None:
        self.issued_at: float | None = None
        self.polls: list[float] = []
        self.forms: list[dict[str, list[str]]] = []
        self.script: list[Callable[[BaseHTTPRequestHandler], None]] = [
            _status(503, b"<html><body>Service Unavailable</body></html>", "text/html"),
            _drop,
            _status(429, b"Too Many Requests", "text/plain", {"Retry-After": "1"}),
            _json(400, {"error": "slow_down"}),
            _json(400, {"error": "authorization_pending", "error_codes": [70016]}),
            _json(
                200,
                {
                    "token_type": "Bearer",
                    "access_token": ACCESS_TOKEN,
                    "refresh_token": REFRESH_TOKEN,
                    "expires_in": "3599",
                    "resource": RESOURCE,
                },
            ),
        ]
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def authority(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                if self.path.startswith("/organizations/oauth2/devicecode"):
                    server.issued_at = time.monotonic()
                    _json(
                        200,
                        {
                            "device_code": DEVICE_CODE,
                            "user_code": USER_CODE,
                            "verification_url": "https://microsoft.com/devicelogin",
                            "expires_in": "900",
                            "interval": "1",
                            "message": "To sign in, use a web browser to open the page "
                            "https://microsoft.com/devicelogin and enter the code "
                            f"{USER_CODE} to authenticate.",
                        },
                    )(self)
                    return
                assert self.path.startswith("/organizations/oauth2/token"), self.path
                server.polls.append(time.monotonic())
                server.forms.append(form)
                server.script.pop(0)(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def gaps(self) -> list[float]:
        assert self.issued_at is not None
        times = [self.issued_at, *self.polls]
        return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def _status(
    status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def _json(status: int, body: dict[str, Any]) -> Callable[[BaseHTTPRequestHandler], None]:
    return _status(status, json.dumps(body).encode(), "application/json; charset=utf-8")


def _drop(handler: BaseHTTPRequestHandler) -> None:
    """Read the request, then close the connection without answering."""
    handler.close_connection = True


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def servers() -> Iterator[tuple[HostileServer, HostileServer]]:
    pair = HostileServer(), HostileServer()
    yield pair
    for server in pair:
        server.close()


def check_run(server: HostileServer, events: list[object], token: Any, started: float) -> None:
    assert token.access_token == ACCESS_TOKEN
    assert token.refresh_token == REFRESH_TOKEN
    assert token.expires_in == 3599
    assert abs(token.issued_at - time.time()) < 60  # re-based on the wall clock

    # The v1 poll: device code sent as ``code``, resource repeated, string numbers understood.
    assert len(server.polls) == 6
    for form in server.forms:
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:device_code"]
        assert form["code"] == [DEVICE_CODE]
        assert form["resource"] == [RESOURCE]
        assert form["client_id"] == ["hostile-test"]

    assert [type(event) for event in events] == [
        Retrying,
        Retrying,
        Retrying,
        SlowDown,
        AuthorizationPending,
    ]
    retry_503, retry_drop, retry_429 = events[:3]
    assert isinstance(retry_503, Retrying) and retry_503.status == 503
    assert isinstance(retry_drop, Retrying) and retry_drop.status is None
    assert isinstance(retry_429, Retrying) and retry_429.retry_after == 1
    assert isinstance(events[3], SlowDown) and events[3].interval == 6

    first, after_503, after_drop, after_429, after_slow_down, after_pending = server.gaps()
    assert first >= 1 - TOLERANCE  # RFC 8628 §3.5: wait at least "interval" ("1", a string)
    assert after_503 >= 1 - TOLERANCE
    assert after_drop >= after_503 - TOLERANCE  # backing off, not hammering
    assert after_429 >= 1 - TOLERANCE  # Retry-After: 1
    assert after_slow_down >= 6 - TOLERANCE  # interval + 5 s ...
    assert after_slow_down >= after_429 + 5 - TOLERANCE
    assert after_pending >= 6 - TOLERANCE  # ... kept for the rest of the flow
    assert after_slow_down <= 6 * 1.5 + 1  # padded a little, not a lot
    assert time.monotonic() - started < 30


def run_sync(server: HostileServer, transport: str) -> tuple[list[object], Any]:
    sync_transport = UrllibTransport() if transport == "urllib" else HttpxTransport()
    endpoints = microsoft_endpoints(authority=server.authority + "/organizations", version="v1")
    events: list[object] = []
    with DeviceFlowClient("hostile-test", endpoints=endpoints, transport=sync_transport) as client:
        issued = client.start(resource=RESOURCE)
        assert issued.verification_uri == "https://microsoft.com/devicelogin"
        token = client.wait(issued, on_pending=events.append)
    if isinstance(sync_transport, HttpxTransport):
        sync_transport.close()
    return events, token


async def run_async(server: HostileServer, transport: str) -> tuple[list[object], Any]:
    async_transport = AsyncUrllibTransport() if transport == "urllib" else AsyncHttpxTransport()
    endpoints = microsoft_endpoints(authority=server.authority + "/organizations", version="v1")
    events: list[object] = []
    client = AsyncDeviceFlowClient("hostile-test", endpoints=endpoints, transport=async_transport)
    async with client:
        issued = await client.start(resource=RESOURCE)
        token = await client.wait(issued, on_pending=events.append)
    if isinstance(async_transport, AsyncHttpxTransport):
        await async_transport.aclose()
    return events, token


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["urllib", "httpx"])
async def test_hostile_server_sync_and_async_clients_get_the_token(
    servers: tuple[HostileServer, HostileServer],
    transport: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="deviceflow")
    sync_server, async_server = servers
    started = time.monotonic()
    (sync_events, sync_token), (async_events, async_token) = await asyncio.gather(
        asyncio.to_thread(run_sync, sync_server, transport),
        run_async(async_server, transport),
    )
    check_run(sync_server, sync_events, sync_token, started)
    check_run(async_server, async_events, async_token, started)

    messages = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (DEVICE_CODE, USER_CODE, ACCESS_TOKEN, REFRESH_TOKEN):
        assert secret not in messages
    assert "HTTP 503" in messages
    assert "ReadError" in messages
    assert "HTTP 429" in messages
