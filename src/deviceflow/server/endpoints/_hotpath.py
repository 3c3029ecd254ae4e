"""Token requests straight to their endpoint, past the router.

A fleet of waiting devices sends one token request per device every few seconds, and almost all
of them are answered ``authorization_pending``. Per request, the framework's router (a regular
expression per route) and its exception middleware cost about as much as the rest of the poll,
so this small ASGI layer, installed right inside the error handler, matches
``/{tenant}/oauth2/v2.0/token`` and ``/{tenant}/oauth2/token`` with plain string operations and
calls the same :class:`~deviceflow.server.endpoints.oauth.TokenEndpoint` the router would, with
the same ``path_params``, and writes the same access log line when that log is on (routine
poll answers are counted and summarised instead: :mod:`._access`). Everything
else goes on through the other layers to the router, and so does a token request with a query
string (for the undecodable-query check).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from deviceflow.server.endpoints._access import PollTally
from deviceflow.server.endpoints._http import access_logger, call_logged

TOKEN_SUFFIXES = {"v2": "oauth2/v2.0/token", "v1": "oauth2/token"}
"""What follows ``/{tenant}/`` in the token endpoints' paths (see ``oauth.routes``)."""


class TokenHotPath:
    """Dispatch token requests to ``endpoints`` (keyed by path suffix after ``/{tenant}/``)."""

    def __init__(
        self, app: ASGIApp, *, endpoints: Mapping[str, ASGIApp], polls: PollTally | None = None
    ) -> None:
        self.app = app
        self.endpoints = dict(endpoints)
        self.polls = polls
        """Where routine poll answers are counted rather than logged (None: every line)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path") and not scope.get("query_string"):
            path: str = scope["path"]
            # "/{tenant}/<suffix>" with a non-empty tenant segment, as the route pattern says.
            tenant, _, suffix = path[1:].partition("/")
            endpoint = self.endpoints.get(suffix) if path[:1] == "/" and tenant else None
            if endpoint is not None:
                scope["endpoint"] = endpoint
                scope["path_params"] = {"tenant": tenant}
                if access_logger.isEnabledFor(logging.INFO):
                    polls = self.polls
                    if polls is not None and not polls.enabled():
                        polls = None  # DEBUG: every poll gets its line
                    await call_logged(endpoint, scope, receive, send, polls)
                else:
                    await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)
