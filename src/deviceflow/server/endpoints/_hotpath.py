"""Token requests straight to their endpoint, in front of every other layer.

A fleet of waiting devices sends one token request per device every few seconds, and almost all
of them are answered ``authorization_pending``. Per request, the framework's router (a regular
expression per route), its error and exception middleware and our own layers (request id, client
address, access log, disconnect guard), each wrapping ``send`` once more, cost about as much as
the rest of the poll. So this one ASGI layer sits in front of the whole app, matches
``/{tenant}/oauth2/v2.0/token`` and ``/{tenant}/oauth2/token`` with plain string operations and
calls the same :class:`~deviceflow.server.endpoints.oauth.TokenEndpoint` the router would, with
the same ``path_params``, and does itself, with a single ``send`` wrapper, what those layers do
for every other request:

- the request id, its ``X-Request-Id`` response header and the log context
  (:mod:`._observe`); with metrics on, the latency under the endpoint's route template;
- the client address and scheme the trusted proxies forwarded (:mod:`deviceflow.server.proxies`);
- the access log line (routine poll answers are counted and summarised instead: :mod:`._access`);
- a client that hangs up mid-body ends the request quietly (:class:`._http.QuietDisconnect`);
- an unexpected exception is answered by the app's 500 handler (``errors.server_error_handler``)
  unless a response has started, and then raised on to the ASGI server, as the framework's
  error middleware does.

Everything else goes on to the app, and so does a token request with a query string (for the
undecodable-query check) or under a ``root_path``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deviceflow.server.endpoints._access import PollTally
from deviceflow.server.endpoints._http import CLIENT_CLOSED, POLL_ANSWER, access_logger, logger
from deviceflow.server.endpoints._lane import Answer, answer_from_memory
from deviceflow.server.endpoints._observe import HEADER, REQUEST_ID, RequestIds, request_scope
from deviceflow.server.endpoints.oauth import TokenEndpoint
from deviceflow.server.metrics import PrometheusRecorder
from deviceflow.server.proxies import TrustedProxies

TOKEN_SUFFIXES = {"v2": "oauth2/v2.0/token", "v1": "oauth2/token"}
"""What follows ``/{tenant}/`` in the token endpoints' paths (see ``oauth.routes``)."""

ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]

_INFO, _DEBUG = logging.INFO, logging.DEBUG


class TokenHotPath(Starlette):
    """A Starlette app that serves token requests itself, before any of its layers run (see
    the module docstring); every other request goes through Starlette as usual.

    ``tokens``: the token endpoints by the path suffix after ``/{tenant}/``, each with its
    route template (for the latency metric). ``on_error``: the app's 500 handler. The rest of
    the keywords are Starlette's.
    """

    def __init__(
        self,
        *,
        tokens: Mapping[str, tuple[ASGIApp, str]],
        ids: RequestIds,
        polls: PollTally,
        on_error: ErrorHandler,
        recorder: PrometheusRecorder | None = None,
        trusted_proxies: Sequence[str] = (),
        **starlette: Any,
    ) -> None:
        super().__init__(**starlette)
        self.tokens = dict(tokens)
        self.ids = ids
        self.polls = polls
        """Where routine poll answers are counted while the access log is at INFO."""
        self.on_error = on_error
        self.recorder = recorder
        self.proxies: TrustedProxies | None = None
        """The configured proxies' layer, for every request (forwarded headers count from
        them only: ``deviceflow.server.proxies``)."""
        self.framework: ASGIApp = super().__call__
        """Starlette's own handling: its middleware stack, router and exception handlers."""
        if trusted_proxies:
            self.framework = self.proxies = TrustedProxies(self.framework, proxies=trusted_proxies)

    def _route(self, scope: Scope) -> tuple[ASGIApp, str] | None:
        """The token endpoint and route template of ``scope``'s path, with the scope's keys
        the router would set; None for every other request."""
        if scope["type"] != "http" or scope.get("root_path") or scope.get("query_string"):
            return None
        path: str = scope["path"]
        # "/{tenant}/<suffix>" with a non-empty tenant segment, as the route pattern says.
        tenant, _, suffix = path[1:].partition("/")
        found = self.tokens.get(suffix) if path[:1] == "/" and tenant else None
        if found is not None:
            scope["app"] = self
            scope["endpoint"] = found[0]
            scope["path_params"] = {"tenant": tenant}
        return found

    def _logged(self, scope: Scope, status: int) -> None:
        """The access log's line for a token request answered ``status``, or its count in the
        tally when it is a routine poll answer (``._access``)."""
        if access_logger.isEnabledFor(_INFO):
            answered = scope.get(POLL_ANSWER)
            if status == 400 and answered and not access_logger.isEnabledFor(_DEBUG):
                self.polls.count(*answered)
            else:
                access_logger.info("%s %s %d", scope["method"], scope["path"], status)

    def answer_now(self, scope: Scope, body: bytes) -> Answer | None:
        """The answer to a request whose head and body are read, when it is a poll that memory
        answers (``_lane``); None: the request goes through :meth:`__call__` as usual. Called by
        the HTTP protocol (``server.poll_lane``), with the same bookkeeping as
        :meth:`__call__`: the request id and its header, the log context, the forwarded
        address, the access log's tally, the latency metric."""
        found = self._route(scope)
        if found is None:
            return None
        endpoint, template = found
        if not isinstance(endpoint, TokenEndpoint):
            return None
        recorder = self.recorder
        started = time.perf_counter() if recorder is not None else 0.0
        if self.proxies is not None:
            scope = self.proxies.forwarded(scope)
        request_id = scope[REQUEST_ID] = self.ids.of(scope)
        context = request_scope.set(scope)
        try:
            answer = answer_from_memory(endpoint, scope, body)
        finally:
            request_scope.reset(context)
        if answer is None:
            return None
        status, headers, raw = answer
        self._logged(scope, status)
        if recorder is not None:
            recorder.observe_request(template, status, time.perf_counter() - started)
        return status, (*headers, (HEADER, request_id.encode())), raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One function, not a call per layer: each would cost a coroutine per poll.
        found = self._route(scope)
        if found is None:
            await self.framework(scope, receive, send)
            return
        endpoint, template = found
        request_id = scope[REQUEST_ID] = self.ids.of(scope)
        if self.proxies is not None:
            scope = self.proxies.forwarded(scope)
        header = (HEADER, request_id.encode())
        sent = 0  # the response's status, once it started

        def send_id(message: Message) -> Awaitable[None]:
            # Not a coroutine function: it hands back ``send``'s awaitable (no frame of its own).
            nonlocal sent
            if message["type"] == "http.response.start":
                sent = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            return send(message)

        context = request_scope.set(scope)
        recorder = self.recorder
        started = time.perf_counter() if recorder is not None else 0.0
        try:
            left = False  # the client hung up before its request was read
            try:
                await endpoint(scope, receive, send_id)
            except ClientDisconnect:
                left = True
                raise
            finally:
                self._logged(scope, CLIENT_CLOSED if left else sent or 500)
        except ClientDisconnect:
            logger.debug(
                "client disconnected before its request was read: %s %s",
                scope["method"],
                scope["path"],
            )
        except Exception as exc:
            response = await self.on_error(Request(scope), exc)
            if not sent:
                await response(scope, receive, send_id)
            raise
        finally:
            if recorder is not None:
                elapsed = time.perf_counter() - started
                recorder.observe_request(template, sent or 500, elapsed)
            request_scope.reset(context)
