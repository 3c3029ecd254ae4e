"""A small Microsoft Graph emulation: ``/me`` (v1.0 and beta), presence, and other users.

Enough for a signed-in device to do something real: the bearer JWT is checked (signature and
expiry by the engine; audience and delegated scope in :mod:`._auth`), and answers use Graph's
shapes (reference §9): a user's 11 default properties (``null`` when unset) with
``@odata.context``, narrowed by ``$select``; presence; errors in the OData shape.

Scopes per endpoint (any one suffices): ``/me``: ``User.Read`` and wider;
``/users/{id|userPrincipalName}``: ``User.ReadBasic.All`` and wider, within the token's tenant;
presence: :mod:`.presence_api`. Test control may throttle any of them (:mod:`._endpoint`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from deviceflow.server.endpoints.context import ServerContext
from deviceflow.server.graph._auth import GRAPH_APP_ID, GRAPH_AUDIENCES, GraphError, authorize
from deviceflow.server.graph._endpoint import Caller, graph_endpoint, version
from deviceflow.server.graph.presence_api import routes as presence_routes
from deviceflow.server.graph.presence_api import user_in_tenant
from deviceflow.server.graph.presence_page import routes as presence_page_routes
from deviceflow.server.graph.userinfo import userinfo
from deviceflow.server.settings import UserRecord

__all__ = ["GRAPH_APP_ID", "GRAPH_AUDIENCES", "GraphError", "authorize", "routes", "user_resource"]

ME_SCOPES = (
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
)
USERS_SCOPES = ("User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All")


def _properties(user: UserRecord) -> dict[str, Any]:
    return {
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


def user_resource(
    user: UserRecord, base: str, *, version: str = "v1.0", select: str | None = None
) -> dict[str, Any]:
    """``user`` in Graph's default shape, or only the ``$select``-ed properties.

    Raises:
        GraphError: 400 ``BadRequest`` for a property this emulation does not know.
    """
    properties = _properties(user)
    if not select:
        return {"@odata.context": f"{base}/{version}/$metadata#users/$entity", **properties}
    wanted = [p.strip() for p in select.split(",") if p.strip()]
    by_lower = {name.lower(): name for name in properties}
    chosen: list[str] = []
    for name in wanted:
        known = by_lower.get(name.lower())
        if known is None:
            raise GraphError(
                400,
                "BadRequest",
                f"Could not find a property named '{name}' on type 'microsoft.graph.user'.",
            )
        chosen.append(known)
    chosen = list(dict.fromkeys(chosen))
    context = f"{base}/{version}/$metadata#users({','.join(chosen)})/$entity"
    return {"@odata.context": context, **{name: properties[name] for name in chosen}}


def _user_body(request: Request, ctx: ServerContext, user: UserRecord) -> dict[str, Any]:
    return user_resource(
        user,
        ctx.base_url(request.scope),
        version=version(request),
        select=request.query_params.get("$select"),
    )


@graph_endpoint(ME_SCOPES)
async def me(request: Request, ctx: ServerContext, caller: Caller) -> dict[str, Any]:
    """``GET /v1.0/me`` and ``/beta/me``: the signed-in user (needs ``User.Read``)."""
    return _user_body(request, ctx, caller.user)


@graph_endpoint(USERS_SCOPES, delegated_only=False)
async def user_by_key(request: Request, ctx: ServerContext, caller: Caller) -> dict[str, Any]:
    """``GET /v1.0/users/{id | userPrincipalName}`` (needs ``User.ReadBasic.All``)."""
    return _user_body(request, ctx, user_in_tenant(request, ctx, caller.user))


def routes() -> list[Route]:
    """Graph routes (with and without the trailing slash some clients send) and the page."""
    found: list[Route] = []
    for api in ("v1.0", "beta"):
        for path, endpoint, name in (
            ("me", me, "graph_me"),
            ("users/{key}", user_by_key, "graph_user"),
        ):
            suffix = "" if api == "v1.0" else "_beta"
            found.append(Route(f"/{api}/{path}", endpoint, methods=["GET"], name=name + suffix))
            found.append(Route(f"/{api}/{path}/", endpoint, methods=["GET"]))
    found.append(Route("/oidc/userinfo", userinfo, methods=["GET", "POST"], name="userinfo"))
    return [*found, *presence_routes(), *presence_page_routes()]
