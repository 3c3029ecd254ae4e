"""The client core and the server app in one process, with no sockets (a pair harness).

Theory of operation: the sans-I/O core (:class:`deviceflow.core.DeviceFlow`,
:func:`deviceflow.core.refresh_request`, discovery) hands out :class:`HttpRequest` values and
takes :class:`HttpResponse` values back. :class:`Pair` is the wire between them: it turns each
request into one ASGI ``http`` call on the app that ``create_app`` built, collects the app's
answer into an :class:`HttpResponse`, and feeds it to the core with the current time. Time is
one :class:`FakeClock` the server reads and the device's ``now`` defaults to; a test moves it to
the ``next_poll_at`` the core reports instead of sleeping, or passes a different ``now`` to play a
device whose clock runs ahead of the server's.

Every call into the server's Python API (building the app, its lifespan, the person's decision on
the verification page, storage) is in :class:`ServerSide`, so a change to those APIs is met here
once; everything else speaks HTTP.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from deviceflow.core import (
    DIALECT_RFC8628,
    AuthorizationPending,
    DeviceCodeIssued,
    DeviceFlow,
    Endpoints,
    HttpRequest,
    HttpResponse,
    Retrying,
    SlowDown,
    Token,
    TokenIssued,
    discovery_requests,
    endpoints_from_metadata,
    parse_token_response,
    refresh_request,
)
from deviceflow.server.app import create_app
from deviceflow.server.settings import Settings
from deviceflow.server.storage import open_storage
from deviceflow.server.storage.base import Storage
from tests.support.clock import FakeClock
from tests.support.grant import approve as approve_on_engine

BASE = "http://testserver"
DEVICE_IP = "192.0.2.10"

PollEvent = AuthorizationPending | SlowDown | Retrying | TokenIssued


class ServerSide:
    """The server under test: the app from ``create_app`` and the person's side of a flow.

    This is the only place the pair harness calls the server's Python API.
    """

    def __init__(
        self, settings: Settings, *, clock: FakeClock, storage: Storage | None = None
    ) -> None:
        self.settings = settings
        self.storage = storage or open_storage("memory:")
        self.app = create_app(settings, storage=self.storage, clock=clock, rng=secrets.token_bytes)

    def lifespan(self) -> AbstractAsyncContextManager[Any]:
        """The app's lifespan (startup and shutdown), entered on the harness's event loop."""
        return self.app.router.lifespan_context(self.app)

    def decide(self, user_code: str, *, tenant: str, username: str, approve: bool = True) -> None:
        """The person enters ``user_code``, signs in as ``username`` and approves (or denies),
        through the grant-engine tests' helper (:func:`tests.support.grant.approve`).

        Raises what the grant engine raises for a code that cannot be decided
        (``VerificationError``).
        """
        found = self.settings.tenant(tenant)
        assert found is not None, tenant
        engine = self.app.state.ctx.engine
        approve_on_engine(engine, user_code, approve=approve, username=username, tenant=found)

    def close(self) -> None:
        self.storage.close()


async def _call(app: Any, request: HttpRequest, client_ip: str) -> HttpResponse:
    """Run ``request`` through the ASGI ``app`` in this task; its answer as an HttpResponse."""
    url = urlsplit(request.url)
    headers = [(b"host", url.netloc.encode("ascii"))]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers]
    if request.body:
        headers.append((b"content-length", str(len(request.body)).encode("ascii")))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme,
        "path": unquote(url.path) or "/",
        "raw_path": (url.path or "/").encode("ascii"),
        "query_string": url.query.encode("ascii"),
        "root_path": "",
        "headers": headers,
        "client": (client_ip, 50000),
        "server": (url.hostname or "testserver", url.port or 80),
    }
    answered = asyncio.Event()
    pending_body = [request.body]
    status = 0
    out_headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if pending_body:
            return {"type": "http.request", "body": pending_body.pop(), "more_body": False}
        await answered.wait()  # the client stays connected until the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, out_headers
        if message["type"] == "http.response.start":
            status, out_headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    await app(scope, receive, send)
    answered.set()
    return HttpResponse(
        status=status,
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in out_headers],
        body=b"".join(chunks),
    )


class Pair:
    """The wire between the client core and the server app, and the clock they share.

    Attributes:
        clock: the server's clock, and the device's unless a call is given ``now``.
        server: the server side (:class:`ServerSide`).
        sent: every request sent so far, with its response, in order.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: FakeClock | None = None,
        storage: Storage | None = None,
        device_ip: str = DEVICE_IP,
    ) -> None:
        self.clock = clock or FakeClock()
        self.server = ServerSide(settings, clock=self.clock, storage=storage)
        self.device_ip = device_ip
        self.sent: list[tuple[HttpRequest, HttpResponse]] = []
        self._loop = asyncio.new_event_loop()
        self._lifespan = self.server.lifespan()
        self._loop.run_until_complete(self._lifespan.__aenter__())

    def close(self) -> None:
        try:
            self._loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        finally:
            self._loop.close()
            self.server.close()

    def send(self, request: HttpRequest) -> HttpResponse:
        """Hand ``request`` to the app and return its answer."""
        response = self._loop.run_until_complete(_call(self.server.app, request, self.device_ip))
        self.sent.append((request, response))
        return response

    def now(self, now: float | None = None) -> float:
        return self.clock() if now is None else now

    def endpoints(self, tenant: str = "contoso", *, dialect: str = DIALECT_RFC8628) -> Endpoints:
        """The tenant's endpoints, found by discovery through the pair (the first answer)."""
        issuer = f"{BASE}/{tenant}/v2.0"
        request = discovery_requests(issuer)[0]
        return endpoints_from_metadata(self.send(request), issuer=issuer, dialect=dialect)

    def start(self, flow: DeviceFlow, *, now: float | None = None) -> DeviceCodeIssued:
        """The device authorization request and its answer."""
        issued = flow.receive(self.send(flow.start()), self.now(now))
        assert isinstance(issued, DeviceCodeIssued), issued
        return issued

    def poll(self, flow: DeviceFlow, *, now: float | None = None) -> PollEvent:
        """One token request at ``now`` (default: the clock); the event the core makes of it."""
        request = flow.poll(self.now(now))
        event = flow.receive(self.send(request), self.now(now))
        assert not isinstance(event, DeviceCodeIssued), event
        return event

    def wait_until(self, when: float) -> None:
        """Move the clock to ``when`` (never back), as a driver sleeping until then would."""
        self.clock.now = max(self.clock.now, when)

    def refresh(self, endpoints: Endpoints, client_id: str, token: Token) -> Token:
        """Redeem ``token``'s refresh token at the token endpoint; the new token."""
        assert token.refresh_token is not None
        request = refresh_request(endpoints, client_id, token.refresh_token)
        return parse_token_response(self.send(request), self.clock())


@contextmanager
def pair(settings: Settings, **options: Any) -> Iterator[Pair]:
    """A :class:`Pair` for the block (memory storage unless ``storage=`` is given)."""
    harness = Pair(settings, **options)
    try:
        yield harness
    finally:
        harness.close()
