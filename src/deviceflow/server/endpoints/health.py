"""Probes and the metrics page: ``/healthz``, ``/readyz`` and ``/metrics``.

``/healthz`` answers 200 as long as the process serves HTTP at all (a liveness probe: restart
me if this fails). ``/readyz`` answers 200 only while storage answers and holds the schema this
code needs, and while the instance is not draining before a stop; otherwise 503 with the reason
as JSON (a readiness probe: send me no traffic). Both are cheap, unauthenticated and say
nothing secret. ``/metrics`` is the Prometheus text page of :mod:`deviceflow.server.metrics`,
on the main address or, with ``metrics_address``, only on its own one (:class:`MetricsSplit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from deviceflow.server.metrics import PrometheusRecorder
from deviceflow.server.storage.base import Storage

if TYPE_CHECKING:
    from deviceflow.server.endpoints._lane import Answer

_NO_STORE = {"cache-control": "no-store"}


@dataclass
class Health:
    """What the probes report on; ``draining`` is set when a stop was asked for and the
    instance keeps serving a little while so load balancers take it out first."""

    storage: Storage
    draining: bool = False

    async def readiness(self) -> str | None:
        """``None`` when ready, else the reason (storage is asked in a worker thread: a
        database that does not answer must not hold the event loop)."""
        if self.draining:
            return "draining"
        return await anyio.to_thread.run_sync(self.storage.check)


def _health(request: Request) -> Health:
    health = request.app.state.health
    assert isinstance(health, Health)
    return health


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


async def readyz(request: Request) -> Response:
    """Readiness: storage reachable, schema current, not draining; else 503 and why."""
    reason = await _health(request).readiness()
    if reason is None:
        return JSONResponse({"status": "ready"}, headers=_NO_STORE)
    return JSONResponse({"status": "unavailable", "reason": reason}, 503, headers=_NO_STORE)


def routes() -> list[Route]:
    """The two probes."""
    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"], name="healthz"),
        Route("/readyz", readyz, methods=["GET", "HEAD"], name="readyz"),
    ]


class MetricsPage:
    """The ASGI app answering ``GET /metrics`` with ``recorder``'s page (404 elsewhere).

    The page is rendered in a worker thread: the pending-flows gauge asks storage.
    """

    def __init__(self, recorder: PrometheusRecorder) -> None:
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/metrics":
            response = Response(b"not found\n", 404, media_type="text/plain")
        elif scope["method"] not in ("GET", "HEAD"):
            response = Response(b"use GET\n", 405, headers={"allow": "GET, HEAD"})
        else:
            body, content_type = await anyio.to_thread.run_sync(self.recorder.exposition)
            response = Response(body, headers={**_NO_STORE, "content-type": content_type})
        await response(scope, receive, send)


class MetricsSplit:
    """Requests that arrive on the metrics address go to the metrics page; the rest to ``app``.

    Installed only with ``metrics_address``: uvicorn listens on both sockets and ASGI's
    ``server`` (the local address a connection came in on) tells them apart by port (the two
    ports differ: ``deviceflow serve`` refuses otherwise).
    """

    def __init__(self, app: ASGIApp, *, page: ASGIApp, port: int) -> None:
        self.app, self.page, self.port = app, page, port

    def answer_now(self, scope: Scope, body: bytes) -> Answer | None:
        """The app's answer from memory to a request on its own address (``server.poll_lane``);
        None on the metrics address."""
        server = scope.get("server")
        if server is not None and server[1] == self.port:
            return None
        answer: Answer | None = self.app.answer_now(scope, body)  # type: ignore[attr-defined]
        return answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if scope["type"] == "http" and server is not None and server[1] == self.port:
            await self.page(scope, receive, send)
            return
        await self.app(scope, receive, send)
