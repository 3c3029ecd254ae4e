"""The outermost layer: a request id on every response, the request's log context, its latency.

Each request gets an id: the client's (or its proxy's) ``X-Request-Id`` when that is sane (1 to
64 characters of letters, digits and ``._:-``), else a new one (this instance's random prefix and
a counter: unique, cheap, and not a secret). The response carries it back in ``X-Request-Id``,
and every log record written while the request runs can name it, with the tenant of its path
(:func:`current`, read by :class:`deviceflow.server.logsafe.JsonFormatter`). With metrics on,
the request's latency is observed by route template: the route the router matched, ``other``
for anything else (a raw path never becomes a label). Token requests on the hot path get all
of this from :class:`~deviceflow.server.endpoints._hotpath.TokenHotPath` instead, in one layer
(the same :class:`RequestIds`, the same context, their endpoint's template).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deviceflow.server.endpoints._http import headers_of
from deviceflow.server.metrics import PrometheusRecorder

_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
HEADER = b"x-request-id"
"""The request and response header carrying the request id."""


class RequestInfo:
    """What log records may say about the request being served."""

    __slots__ = ("request_id", "scope")

    def __init__(self, request_id: str, scope: Scope) -> None:
        self.request_id = request_id
        self.scope = scope

    @property
    def tenant(self) -> str | None:
        """The tenant segment of the path, once a route with one matched."""
        params = self.scope.get("path_params")
        tenant = params.get("tenant") if params else None
        return str(tenant)[:64] if tenant else None


request_scope: ContextVar[Scope | None] = ContextVar("deviceflow_request", default=None)
"""The scope of the request this task serves (its id under :data:`REQUEST_ID`)."""

REQUEST_ID = "deviceflow.request_id"
"""The scope key holding the request's id."""


def current() -> RequestInfo | None:
    """The request this task serves, if any."""
    scope = request_scope.get()
    return None if scope is None else RequestInfo(scope[REQUEST_ID], scope)


def route_template(scope: Scope) -> str:
    """The matched route's path template, else ``other``."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "other"


class RequestIds:
    """Where request ids come from (see the module docstring): one per app, shared by
    :class:`RequestContext` and the token hot path."""

    def __init__(self, rng: Callable[[int], bytes]) -> None:
        self._prefix = rng(6).hex()
        self._counter = itertools.count(1)

    def of(self, scope: Scope) -> str:
        """The id of the request of ``scope``: its sane ``X-Request-Id``, else a new one."""
        value = headers_of(scope).get(HEADER)
        if value is not None:
            given = bytes(value).decode("latin-1")
            if _SANE_ID.fullmatch(given):
                return given
        return f"{self._prefix}-{next(self._counter):x}"


class RequestContext:
    """See the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        ids: RequestIds,
        recorder: PrometheusRecorder | None = None,
    ) -> None:
        self.app = app
        self._ids = ids
        self._recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope[REQUEST_ID] = self._ids.of(scope)
        header = (HEADER, request_id.encode())
        token = request_scope.set(scope)
        recorder = self._recorder
        if recorder is None:  # metrics off: only the id's header (no status, no clock)

            async def send_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            try:
                await self.app(scope, receive, send_id)
            finally:
                request_scope.reset(token)
            return
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            recorder.observe_request(route_template(scope), status, elapsed)
            request_scope.reset(token)
