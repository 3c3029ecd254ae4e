"""Failures test control queues, and the token endpoint wrapper that serves them.

A device fleet's pending polls are the server's hot path, so the wrapper costs one attribute
read (:attr:`Faults.armed`, a plain bool) per token request while nothing is queued; without
test control it is not installed at all (``create_app`` wraps the token endpoints only when
``settings.test_control`` is on). With a failure queued, the wrapper reads the form, takes the
first failure meant for the request's client, and answers with it instead of the endpoint; a
request no failure is meant for goes on to the endpoint with its body replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from deviceflow.server.endpoints._http import FormError, parse_form, read_body, send_json
from deviceflow.server.grant import AUTHORIZATION_PENDING

if TYPE_CHECKING:
    from deviceflow.server.endpoints.context import ServerContext
    from deviceflow.server.endpoints.oauth import TokenEndpoint
    from deviceflow.server.grant import Reason

TOKEN_ROUTES = ("token", "token_v1")
"""The names of the routes :func:`wrap_token_routes` wraps (``endpoints.oauth.routes``)."""

_REASONS: dict[str, Reason] = {
    "authorization_pending": "pending",
    "access_denied": "denied",
    "authorization_declined": "denied",
    "expired_token": "expired",
    "bad_verification_code": "unknown_device_code",
}
"""Queued errors that are also the engine's: spelled by each dialect as the engine's are."""
_DESCRIPTIONS = {"authorization_pending": AUTHORIZATION_PENDING.error().description}
"""The engine's own text for the one answer tests queue most."""


@dataclass(frozen=True, slots=True)
class TokenFault:
    """One answer the token endpoint gives instead of its own (``POST /test-control/fail-next``).

    ``aadsts``: the AADSTS number a Microsoft tenant's body carries (then ``error`` may be
    empty: the number's own error is used); ``client_id``: only requests of this client.
    """

    error: str
    description: str = ""
    status: int = 400
    aadsts: int | None = None
    retry_after: int | None = None
    client_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The fault as the status endpoint lists it."""
        return {
            "error": self.error or None,
            "description": self.description or None,
            "status": self.status,
            "aadsts": self.aadsts,
            "retry_after": self.retry_after,
            "client_id": self.client_id,
        }


class Faults:
    """What test control has queued for one app; only its event loop touches it."""

    __slots__ = ("_graph", "_token", "armed")

    def __init__(self) -> None:
        self.armed = False
        """Whether a token failure is queued (the token endpoints' one check)."""
        self._token: list[list[Any]] = []  # [fault, answers left]
        self._graph: list[int] = [0, 0]  # answers left, Retry-After

    def fail_next(self, fault: TokenFault, count: int = 1) -> None:
        """Answer the next ``count`` token requests (of ``fault.client_id``) with ``fault``."""
        self._token.append([fault, count])
        self.armed = True

    def take_token(self, client_id: str | None) -> TokenFault | None:
        """The failure the next token request of ``client_id`` gets (used up), or None."""
        for entry in self._token:
            fault, left = entry
            if fault.client_id is None or fault.client_id == client_id:
                if left <= 1:
                    self._token.remove(entry)
                    self.armed = bool(self._token)
                else:
                    entry[1] = left - 1
                return fault  # type: ignore[no-any-return]
        return None

    def throttle_graph(self, count: int, retry_after: int) -> None:
        """Answer the next ``count`` Graph requests with 429 and ``Retry-After``."""
        self._graph = [count, retry_after]

    def take_graph(self) -> int | None:
        """``Retry-After`` seconds when the next Graph request is throttled (used up), else
        None."""
        left, retry_after = self._graph
        if left <= 0:
            return None
        self._graph[0] = left - 1
        return retry_after

    def reset(self) -> None:
        """Forget every queued failure."""
        self._token.clear()
        self.armed = False
        self._graph = [0, 0]

    def as_json(self) -> dict[str, Any]:
        """What is queued, for ``GET /test-control``."""
        return {
            "token_failures": [{**f.as_json(), "count": n} for f, n in self._token],
            "graph_throttled": self._graph[0],
            "graph_retry_after": self._graph[1],
        }


class FaultyTokenEndpoint:
    """A token endpoint that answers with queued failures first (see the module docstring)."""

    def __init__(self, endpoint: TokenEndpoint, faults: Faults, ctx: ServerContext) -> None:
        self._endpoint = endpoint
        self._faults = faults
        self._ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._faults.armed:
            await self._endpoint(scope, receive, send)
            return
        segment = scope["path_params"]["tenant"]
        tenant = self._ctx.settings.resolve_tenant(segment)
        if tenant is None:  # the endpoint's own answer (unknown tenant)
            await self._endpoint(scope, receive, send)
            return
        dialect = self._ctx.dialects[tenant.dialect]
        try:
            raw = await read_body(receive, scope)
        except FormError as exc:  # too large: answered as the endpoint answers it
            body = dialect.error_body(
                "invalid_request", str(exc), wire=self._endpoint.wire(scope, send, {})
            )
            await send_json(send, 400, body)
            return
        try:
            form = parse_form(raw)
        except FormError:
            form = {}
        fault = self._faults.take_token(form.get("client_id"))
        if fault is None:
            await self._endpoint(scope, _replay(raw), send)
            return
        wire = self._endpoint.wire(scope, send, form)
        coded = getattr(dialect, "coded_error_body", None)
        if fault.aadsts is not None and coded is not None:
            body = coded(fault.aadsts, fault.error or None, fault.description, wire)
        else:
            error = fault.error or "invalid_grant"
            detail = fault.description or _DESCRIPTIONS.get(error, error)
            body = dialect.error_body(error, detail, reason=_REASONS.get(error), wire=wire)
        headers = []
        if fault.retry_after is not None:
            headers.append((b"retry-after", str(fault.retry_after).encode()))
        await send_json(send, fault.status, body, extra_headers=headers)


def _replay(body: bytes) -> Receive:
    """A ``receive`` that hands out ``body`` once more (the wrapper read it first)."""
    messages: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return messages.pop() if messages else {"type": "http.disconnect"}

    return receive


def wrap_token_routes(routes: list[Route], faults: Faults, ctx: ServerContext) -> list[Route]:
    """``routes`` with the token endpoints answering queued failures first."""
    wrapped: list[Route] = []
    for route in routes:
        if route.name in TOKEN_ROUTES:
            endpoint = FaultyTokenEndpoint(route.endpoint, faults, ctx)  # type: ignore[arg-type]
            route = Route(route.path, endpoint, name=route.name)
        wrapped.append(route)
    return wrapped
