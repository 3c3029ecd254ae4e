"""Graph's bearer-token checks and error shape.

Errors are OData (Graph ``concepts/errors.md``): ``{"error": {"code", "message", "innerError":
{"date", "request-id", "client-request-id"}}}``; every Graph response carries ``request-id`` and
``client-request-id`` headers; a 401 carries Graph's ``WWW-Authenticate`` challenge (reference §9).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from deviceflow.server.endpoints.context import ServerContext
from deviceflow.server.grant import GrantError
from deviceflow.server.settings import UserRecord

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
"""Microsoft Graph's application id, one of the audiences Graph tokens carry."""

GRAPH_AUDIENCES = frozenset({GRAPH_APP_ID, "https://graph.microsoft.com"})

_EXPIRED = "Lifetime validation failed, the token is expired."
_CAE = {
    reason: "Continuous access evaluation resulted in challenge with result: InteractionRequired"
    f" and code: {code}"
    for reason, code in (
        ("revoked", "TokenIssuedBeforeRevocationTimestamp"),
        ("policy", "TokenCreatedWithOutdatedPolicies"),
    )
}
"""Graph's 401 message for a claims challenge, by the demand's reason."""


@dataclass(eq=False)
class GraphError(Exception):
    """A Graph error response: status, OData error code and message.

    ``scope``: a 403's missing scope; ``claims``: a 401's claims challenge (JSON, continuous
    access evaluation); ``retry_after``: a 429's ``Retry-After`` seconds.
    """

    status: int
    code: str
    message: str
    scope: str | None = None
    claims: str | None = None
    retry_after: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)


def request_ids(request: Request, ctx: ServerContext) -> dict[str, str]:
    """``request-id`` (fresh) and ``client-request-id`` (echoed, else the same) headers."""
    request_id = ctx.request_id()
    client_request_id = (request.headers.get("client-request-id") or request_id)[:64]
    return {"request-id": request_id, "client-request-id": client_request_id}


NO_STORE = {"Cache-Control": "no-store"}
"""Graph answers hold personal data and depend on the bearer token: never cache them."""


def graph_json(
    request: Request, ctx: ServerContext, body: dict[str, Any], *, odata: bool = True
) -> Response:
    """A successful Graph response with its id headers (``OData-Version`` unless ``odata`` is
    false), never cached."""
    headers = {**request_ids(request, ctx), **NO_STORE}
    if odata:
        headers["OData-Version"] = "4.0"
    return JSONResponse(body, headers=headers)


def graph_error(request: Request, ctx: ServerContext, exc: GraphError) -> Response:
    """``exc`` in Graph's OData error shape, with the id headers and the 401/403 challenge."""
    ids = request_ids(request, ctx)
    body = {
        "error": {
            "code": exc.code,
            "message": exc.message,
            "innerError": {
                "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ctx.clock())),
                **ids,
            },
        }
    }
    headers = {**ids, **NO_STORE}
    base = ctx.base_url(request.scope)
    if exc.status == 401:
        headers["WWW-Authenticate"] = (
            f'Bearer realm="", authorization_uri="{base}/common/oauth2/authorize", '
            f'client_id="{GRAPH_APP_ID}"'
        )
        if exc.claims:
            encoded = base64.b64encode(exc.claims.encode()).decode()
            headers["WWW-Authenticate"] += f', error="insufficient_claims", claims="{encoded}"'
    elif exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
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
    request: Request,
    ctx: ServerContext,
    accepted: Iterable[str],
    *,
    delegated_only: bool = True,
    token: str | None = None,
) -> tuple[UserRecord, dict[str, Any]]:
    """Check the bearer token of ``request`` for one of the ``accepted`` delegated scopes.

    ``token``: a bearer token the request carried elsewhere than in its ``Authorization``
    header (a form parameter, RFC 6750 §2.2).

    Returns:
        The signed-in user and the token's claims.

    Raises:
        GraphError: 401 for a missing, malformed, forged, expired or foreign-audience token;
            400 for an app-only token on ``/me``; 403 when the token lacks every accepted scope.
    """
    accepted = tuple(accepted)
    authorization = request.headers.get("authorization", "")
    if authorization or token is None:
        scheme, _, given = authorization.partition(" ")
        token = given.strip() if scheme.lower() == "bearer" else ""
    if not token:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    try:
        claims = ctx.engine.verify_access_token(token)
    except GrantError as exc:
        expired = "expired" in exc.description
        message = (
            _EXPIRED if expired else "CompactToken validation failed with reason code: 80049228."
        )
        raise GraphError(401, "InvalidAuthenticationToken", message) from exc
    base = ctx.base_url(request.scope)
    if not _audiences(claims) & (GRAPH_AUDIENCES | {base, f"{base}/"}):
        raise GraphError(
            401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."
        )
    if delegated_only and "scp" not in claims:
        raise GraphError(
            400, "BadRequest", "/me request is only valid with delegated authentication flow."
        )
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
    challenge = ctx.engine.cae.challenge(claims)
    if challenge is not None:
        demanded, reason = challenge
        message = _CAE.get(reason, _CAE["policy"])
        raise GraphError(401, "InvalidAuthenticationToken", message, claims=demanded)
    return user, claims
