"""A minimal Microsoft Graph emulation: ``/v1.0/me`` and ``/v1.0/me/presence``.

Enough for a signed-in device to do something real: the bearer JWT is checked (signature and
expiry by the engine; audience and delegated scope here), and answers and errors use Graph's
shapes: the user's 11 default properties plus ``@odata.context``, or
``{"error": {"code", "message", "innerError": {...}}}`` with 401/403 and ``WWW-Authenticate``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deviceflow.server.endpoints.context import ServerContext, context_of
from deviceflow.server.grant import GrantError
from deviceflow.server.graph.presence_page import routes as presence_page_routes
from deviceflow.server.settings import UserRecord

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
"""Microsoft Graph's application id, one of the audiences Graph tokens carry."""

GRAPH_AUDIENCES = frozenset({GRAPH_APP_ID, "https://graph.microsoft.com"})
ME_SCOPES = (
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
)
PRESENCE_SCOPES = ("Presence.Read", "Presence.ReadWrite", "Presence.Read.All")


class GraphError(Exception):
    """A Graph error response: status, OData error code and message."""

    def __init__(self, status: int, code: str, message: str, *, scope: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.scope = scope


def _graph_error(request: Request, ctx: ServerContext, exc: GraphError) -> Response:
    request_id = str(uuid.uuid4())
    client_request_id = request.headers.get("client-request-id") or request_id
    body = {
        "error": {
            "code": exc.code,
            "message": exc.message,
            "innerError": {
                "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ctx.clock())),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }
    headers = {"request-id": request_id, "client-request-id": client_request_id}
    base = ctx.base_url(request.scope)
    if exc.status == 401:
        headers["WWW-Authenticate"] = (
            f'Bearer realm="", authorization_uri="{base}/common/oauth2/v2.0/authorize", '
            f'client_id="{GRAPH_APP_ID}", error="invalid_token"'
        )
    elif exc.status == 403 and exc.scope:
        headers["WWW-Authenticate"] = (
            f'Bearer realm="", error="insufficient_scope", scope="{exc.scope}"'
        )
    return JSONResponse(body, status_code=exc.status, headers=headers)


def _audiences(claims: dict[str, Any]) -> set[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return {aud}
    if isinstance(aud, list):
        return {a for a in aud if isinstance(a, str)}
    return set()


def authorize(
    request: Request, ctx: ServerContext, accepted: Iterable[str]
) -> tuple[UserRecord, dict[str, Any]]:
    """Check the bearer token of ``request`` for one of the ``accepted`` delegated scopes.

    Returns:
        The signed-in user and the token's claims.

    Raises:
        GraphError: 401 for a missing, malformed, forged, expired or foreign-audience token;
            403 when the token lacks every accepted scope or is not a user's token.
    """
    accepted = tuple(accepted)
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if not token or scheme.lower() != "bearer":
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    try:
        claims = ctx.engine.verify_access_token(token)
    except GrantError as exc:
        raise GraphError(
            401, "InvalidAuthenticationToken", exc.description or "Access token validation failure."
        ) from exc
    base = ctx.base_url(request.scope)
    if not _audiences(claims) & (GRAPH_AUDIENCES | {base, f"{base}/"}):
        raise GraphError(401, "InvalidAuthenticationToken", "Invalid audience.")
    granted = {s.lower() for s in str(claims.get("scp", "")).split()}
    if not granted & {s.lower() for s in accepted}:
        raise GraphError(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            scope=accepted[0],
        )
    user = ctx.engine.user_by_id(str(claims.get("oid", "")))
    if user is None or not user.enabled:
        raise GraphError(401, "InvalidAuthenticationToken", "The user of this token is unknown.")
    return user, claims


def user_resource(user: UserRecord, base: str) -> dict[str, Any]:
    """``user`` in Graph's default shape (11 properties, ``null`` for unset ones)."""
    return {
        "@odata.context": f"{base}/v1.0/$metadata#users/$entity",
        "businessPhones": list(user.business_phones),
        "displayName": user.display_name,
        "givenName": user.given_name,
        "jobTitle": user.job_title,
        "mail": user.mail,
        "mobilePhone": user.mobile_phone,
        "officeLocation": user.office_location,
        "preferredLanguage": user.preferred_language,
        "surname": user.surname,
        "userPrincipalName": user.preferred_username,
        "id": user.id,
    }


async def me(request: Request) -> Response:
    """``GET /v1.0/me``: the signed-in user (needs ``User.Read``)."""
    ctx = context_of(request)
    try:
        user, _claims = authorize(request, ctx, ME_SCOPES)
    except GraphError as exc:
        return _graph_error(request, ctx, exc)
    return JSONResponse(user_resource(user, ctx.base_url(request.scope)))


async def presence(request: Request) -> Response:
    """``GET /v1.0/me/presence``: availability and activity (needs ``Presence.Read``)."""
    ctx = context_of(request)
    try:
        user, _claims = authorize(request, ctx, PRESENCE_SCOPES)
    except GraphError as exc:
        return _graph_error(request, ctx, exc)
    availability, activity = ctx.engine.get_presence(user.id)
    base = ctx.base_url(request.scope)
    return JSONResponse(
        {
            "@odata.context": f"{base}/v1.0/$metadata#users('{user.id}')/presence/$entity",
            "id": user.id,
            "availability": availability,
            "activity": activity,
        }
    )


def routes() -> list[Route]:
    """Graph routes and the small presence page."""
    return [
        Route("/v1.0/me", me, methods=["GET"], name="graph_me"),
        Route("/v1.0/me/presence", presence, methods=["GET"], name="graph_presence"),
        *presence_page_routes(),
    ]
