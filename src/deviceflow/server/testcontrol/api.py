"""The test-control API: ``/test-control/...``, for tests in any language (docs/testing.md).

Every request carries ``Authorization: Bearer <token>`` (the token ``deviceflow serve`` prints
at start, or ``settings.test_control_token``); bodies are JSON objects; answers are JSON, errors
``{"error": ..., "error_description": ...}``. The routes exist only when ``settings.test_control``
is on. What they do goes through the same engine as the pages and endpoints: approving a code is
the verification page's decision, made as a named user; revoking sessions and demanding claims
are :class:`~deviceflow.server.grant.ContinuousAccess` actions; presence is the presence store.
"""

from __future__ import annotations

import functools
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deviceflow.server.endpoints._http import client_ip
from deviceflow.server.endpoints.context import ServerContext, context_of
from deviceflow.server.grant import VerificationError
from deviceflow.server.graph._presence import presence_of
from deviceflow.server.settings import Tenant, UserRecord
from deviceflow.server.testcontrol._faults import Faults, TokenFault

PREFIX = "/test-control"
_ERROR_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_VERIFICATION_STATUS = {
    "unknown": (404, "unknown_user_code"),
    "expired": (409, "expired"),
    "used": (409, "already_decided"),
    "rate_limited": (429, "rate_limited"),
    "invalid": (400, "invalid_user"),
    "network": (403, "blocked_by_policy"),
}


class ControlError(Exception):
    """A refused test-control request: HTTP status, error code, description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def faults_of(request: Request) -> Faults:
    """The :class:`Faults` of the app serving ``request``."""
    faults = request.app.state.test_control
    assert isinstance(faults, Faults)
    return faults


_Handler = Callable[[Request, ServerContext, dict[str, Any]], Awaitable[dict[str, Any]]]


def _control(handler: _Handler) -> Callable[[Request], Awaitable[Response]]:
    """Check the bearer token, read the JSON body, turn :class:`ControlError` into its answer."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        ctx = context_of(request)
        try:
            _check_token(request, ctx)
            body = await _json_body(request)
            answer = await handler(request, ctx, body)
        except ControlError as exc:
            headers = {"Cache-Control": "no-store"}
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="deviceflow test control"'
            payload = {"error": exc.error, "error_description": exc.description}
            return JSONResponse(payload, status_code=exc.status, headers=headers)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    return endpoint


def _check_token(request: Request, ctx: ServerContext) -> None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = ctx.settings.test_control_token or ""
    if not (expected and scheme.lower() == "bearer" and given.strip()):
        raise ControlError(401, "unauthorized", "Send the test-control token as a Bearer token.")
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ControlError(401, "unauthorized", "That is not the test-control token.")


async def _json_body(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        return {}
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ControlError(400, "invalid_request", "The body must be a JSON object.")
    return body


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 512:
        raise ControlError(400, "invalid_request", f"{name} must be a non-empty string.")
    return value.strip()


def _number(body: dict[str, Any], name: str, default: int | None, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ControlError(400, "invalid_request", f"{name} must be an integer {low}..{high}.")
    return value


def _user(ctx: ServerContext, username: str, tenant: Tenant | None = None) -> UserRecord:
    found = ctx.engine.accounts.users_named(tenant, username)  # the file's, then the database's
    if found:
        return found[0]
    raise ControlError(404, "unknown_user", f"No user {username!r} here.")


# -- device codes -----------------------------------------------------------------------------


async def _decide(
    request: Request, ctx: ServerContext, body: dict[str, Any], approve: bool
) -> dict[str, Any]:
    user_code = _text(body, "user_code")
    assert user_code is not None
    username = _text(body, "username", required=False)
    ip = client_ip(request.scope)
    verification = ctx.engine.verification
    try:
        pending = verification.lookup_user_code(user_code=user_code, ip=ip, session="test-control")
        if username is None:
            user = next((u for u in ctx.settings.users if u.tenant == pending.tenant.id), None)
            if user is None:
                raise ControlError(404, "unknown_user", "The code's tenant has no user.")
        else:
            user = _user(ctx, username, pending.tenant)
        verification.decide(
            user_code=user_code,
            approve=approve,
            user=user,
            ip=ip,
            session="test-control",
            user_agent="deviceflow test control",
        )
    except VerificationError as exc:
        status, error = _VERIFICATION_STATUS[exc.kind]
        raise ControlError(status, error, f"The user code cannot be decided: {exc.kind}.") from exc
    return {"status": "approved" if approve else "denied", "username": user.username}


@_control
async def approve(request: Request, ctx: ServerContext, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /test-control/approve`` ``{"user_code", "username"?}``: approve as that user
    (default: the first user of the code's tenant)."""
    return await _decide(request, ctx, body, True)


@_control
async def deny(request: Request, ctx: ServerContext, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /test-control/deny`` ``{"user_code", "username"?}``: deny as that user."""
    return await _decide(request, ctx, body, False)


@_control
async def expire(request: Request, ctx: ServerContext, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /test-control/expire`` ``{"user_code"}``: the code expires now."""
    user_code = _text(body, "user_code")
    assert user_code is not None
    if not ctx.engine.expire_user_code(user_code):
        raise ControlError(404, "unknown_user_code", "No request holds that user code.")
    return {"status": "expired"}


# -- failures -----------------------------------------------------------------------------------


@_control
async def fail_next(request: Request, ctx: ServerContext, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /test-control/fail-next`` ``{"error"?, "aadsts"?, "count"?, "status"?,
    "retry_after"?, "client_id"?, "description"?}``: the next token answers are this error."""
    error = _text(body, "error", required=False) or ""
    if error and not _ERROR_NAME.match(error):
        raise ControlError(400, "invalid_request", "error must be an OAuth error code.")
    aadsts = None if body.get("aadsts") is None else _number(body, "aadsts", None, 1, 10**9)
    if not error and aadsts is None:
        raise ControlError(400, "invalid_request", "Give error, aadsts or both.")
    retry_after = body.get("retry_after")
    fault = TokenFault(
        error=error,
        description=_text(body, "description", required=False) or "",
        status=_number(body, "status", 400, 400, 599),
        aadsts=aadsts,
        retry_after=None if retry_after is None else _number(body, "retry_after", 0, 0, 86400),
        client_id=_text(body, "client_id", required=False),
    )
    count = _number(body, "count", 1, 1, 10_000)
    faults_of(request).fail_next(fault, count)
    return {"queued": count}


@_control
async def throttle_graph(
    request: Request, ctx: ServerContext, body: dict[str, Any]
) -> dict[str, Any]:
    """``POST /test-control/throttle-graph`` ``{"count"?, "retry_after"?}``: Graph answers the
    next calls with 429 and ``Retry-After``."""
    count = _number(body, "count", 1, 1, 10_000)
    retry_after = _number(body, "retry_after", 1, 0, 3600)
    faults_of(request).throttle_graph(count, retry_after)
    return {"throttled": count, "retry_after": retry_after}


@_control
async def reset(request: Request, ctx: ServerContext, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /test-control/reset``: forget queued token failures and Graph throttling."""
    faults_of(request).reset()
    return {"status": "reset"}


@_control
async def status(request: Request, ctx: ServerContext, body: dict[str, Any]) -> dict[str, Any]:
    """``GET /test-control``: what is queued."""
    return faults_of(request).as_json()


# -- users --------------------------------------------------------------------------------------


@_control
async def revoke_sessions(
    request: Request, ctx: ServerContext, body: dict[str, Any]
) -> dict[str, Any]:
    """``POST /test-control/revoke-sessions`` ``{"username"}``: revoke the user's sign-ins
    (refresh tokens stop working; Graph challenges older access tokens)."""
    user = _user(ctx, _text(body, "username") or "")
    return {"claims": ctx.engine.cae.revoke_sessions(user.id)}


@_control
async def demand_claims(
    request: Request, ctx: ServerContext, body: dict[str, Any]
) -> dict[str, Any]:
    """``POST /test-control/demand-claims`` ``{"username", "claims"?}``: Graph answers the
    user's tokens that miss ``claims`` (default: issued from now on) with a claims challenge."""
    user = _user(ctx, _text(body, "username") or "")
    claims = body.get("claims")
    if isinstance(claims, str):
        try:
            claims = json.loads(claims)
        except ValueError:
            claims = None
        if claims is None:
            raise ControlError(400, "invalid_request", "claims must be a JSON object.")
    if claims is not None and not isinstance(claims, dict):
        raise ControlError(400, "invalid_request", "claims must be a JSON object.")
    return {"claims": ctx.engine.cae.demand(user.id, claims)}


@_control
async def set_presence(
    request: Request, ctx: ServerContext, body: dict[str, Any]
) -> dict[str, Any]:
    """``POST /test-control/presence`` ``{"username", "availability", "activity"}``."""
    user = _user(ctx, _text(body, "username") or "")
    availability = _text(body, "availability") or ""
    activity = _text(body, "activity") or ""
    try:
        presence_of(request).set(user.id, availability, activity)
    except ValueError as exc:
        raise ControlError(400, "invalid_request", str(exc)) from exc
    return {"availability": availability, "activity": activity}


def routes() -> list[Route]:
    """The test-control routes (``create_app`` adds them when test control is on)."""
    posts = {
        "approve": approve,
        "deny": deny,
        "expire": expire,
        "fail-next": fail_next,
        "throttle-graph": throttle_graph,
        "reset": reset,
        "revoke-sessions": revoke_sessions,
        "demand-claims": demand_claims,
        "presence": set_presence,
    }
    found = [Route(PREFIX, status, methods=["GET"], name="test_control")]
    found += [
        Route(f"{PREFIX}/{name}", endpoint, methods=["POST"]) for name, endpoint in posts.items()
    ]
    return found
