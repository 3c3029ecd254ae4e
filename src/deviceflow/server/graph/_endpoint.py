"""What every emulated Graph API endpoint does around its own answer.

:func:`graph_endpoint` makes ``async handler(request, ctx, caller)`` an endpoint: the call may
be throttled first (test control's ``throttle-graph``: 429 with ``Retry-After``, Graph's
throttling answer), then the bearer token is checked (:func:`~._auth.authorize`), then the
handler's dictionary is the JSON answer (``None``: an empty 200, as Graph's actions answer). A
:class:`~._auth.GraphError` raised anywhere becomes Graph's error body.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from deviceflow.server.endpoints.context import ServerContext, context_of
from deviceflow.server.graph._auth import (
    NO_STORE,
    GraphError,
    authorize,
    graph_error,
    graph_json,
    request_ids,
)
from deviceflow.server.settings import UserRecord

_MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Caller:
    """Who calls: the signed-in user and the delegated scopes of their token (lower case)."""

    user: UserRecord
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        """Whether the token carries ``scope``."""
        return scope.lower() in self.scopes


Handler = Callable[[Request, ServerContext, Caller], Awaitable[dict[str, Any] | None]]


def version(request: Request) -> str:
    """``beta`` or ``v1.0``: the API version the request's path names."""
    return "beta" if request.url.path.startswith("/beta/") else "v1.0"


def throttled(request: Request) -> GraphError | None:
    """A 429 for this call when test control throttles Graph (``app.state.test_control``)."""
    faults = getattr(request.app.state, "test_control", None)
    wait = None if faults is None else faults.take_graph()
    if wait is None:
        return None
    return GraphError(429, "TooManyRequests", "Please retry again later.", retry_after=wait)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body.

    Raises:
        GraphError: 400 ``BadRequest`` for anything but a JSON object (or a body over 64 KiB).
    """
    raw = await request.body()
    try:
        body = json.loads(raw) if len(raw) <= _MAX_BODY else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    return body


def graph_endpoint(
    scopes: tuple[str, ...], *, delegated_only: bool = True
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Make ``handler`` a Graph endpoint accepting tokens with any one of ``scopes``."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            ctx = context_of(request)
            try:
                refusal = throttled(request)
                if refusal is not None:
                    raise refusal
                user, claims = authorize(request, ctx, scopes, delegated_only=delegated_only)
                granted = frozenset(s.lower() for s in str(claims.get("scp", "")).split())
                body = await handler(request, ctx, Caller(user, granted))
            except GraphError as exc:
                return graph_error(request, ctx, exc)
            if body is None:
                return Response(status_code=200, headers={**request_ids(request, ctx), **NO_STORE})
            return graph_json(request, ctx, body)

        return endpoint

    return wrap
