"""A small Microsoft Graph emulation: ``/me`` (v1.0 and beta), presence, and other users.

Enough for a signed-in device to do something real: the bearer JWT is checked (signature and
expiry by the engine; audience and delegated scope in :mod:`._auth`), and answers use Graph's
shapes (reference §9): a user's 11 default properties (``null`` when unset) with
``@odata.context``, narrowed by ``$select``; presence; errors in the OData shape.

Scopes per endpoint (any one suffices): ``/me``: ``User.Read`` and wider; ``/me/presence``:
``Presence.Read`` and wider; ``/users/{id|userPrincipalName}``: ``User.ReadBasic.All`` and wider,
within the token's tenant.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from deviceflow.server.endpoints.context import ServerContext, context_of
from deviceflow.server.graph._auth import (
    GRAPH_APP_ID,
    GRAPH_AUDIENCES,
    GraphError,
    authorize,
    graph_error,
    graph_json,
)
from deviceflow.server.graph._presence import presence_of
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
PRESENCE_SCOPES = ("Presence.Read", "Presence.ReadWrite", "Presence.Read.All")


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


def _version(request: Request) -> str:
    return "beta" if request.url.path.startswith("/beta/") else "v1.0"


_Handler = Callable[[Request, ServerContext, UserRecord], dict[str, Any]]


def _graph_endpoint(
    scopes: tuple[str, ...], *, delegated_only: bool = True
) -> Callable[[_Handler], Callable[[Request], Awaitable[Response]]]:
    """Make ``handler(request, ctx, user)`` an endpoint: the bearer token is checked first
    (:func:`authorize` with ``scopes``), the dictionary it returns is the JSON answer, and a
    :class:`GraphError` it (or the check) raises becomes Graph's error body."""

    def wrap(handler: _Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            ctx = context_of(request)
            try:
                user, _claims = authorize(request, ctx, scopes, delegated_only=delegated_only)
                body = handler(request, ctx, user)
            except GraphError as exc:
                return graph_error(request, ctx, exc)
            return graph_json(request, ctx, body)

        return endpoint

    return wrap


def _user_body(request: Request, ctx: ServerContext, user: UserRecord) -> dict[str, Any]:
    return user_resource(
        user,
        ctx.base_url(request.scope),
        version=_version(request),
        select=request.query_params.get("$select"),
    )


@_graph_endpoint(ME_SCOPES)
def me(request: Request, ctx: ServerContext, user: UserRecord) -> dict[str, Any]:
    """``GET /v1.0/me`` and ``/beta/me``: the signed-in user (needs ``User.Read``)."""
    return _user_body(request, ctx, user)


@_graph_endpoint(USERS_SCOPES, delegated_only=False)
def user_by_key(request: Request, ctx: ServerContext, signed_in: UserRecord) -> dict[str, Any]:
    """``GET /v1.0/users/{id | userPrincipalName}`` (needs ``User.ReadBasic.All``)."""
    key = request.path_params["key"].lower()
    found = next(
        (
            u
            for u in ctx.settings.users
            if u.tenant == signed_in.tenant and key in (u.id.lower(), u.preferred_username.lower())
        ),
        None,
    )
    if found is None:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{request.path_params['key'][:128]}' does not exist or one of its"
            " queried reference-property objects are not present.",
        )
    return _user_body(request, ctx, found)


@_graph_endpoint(PRESENCE_SCOPES)
def presence(request: Request, ctx: ServerContext, user: UserRecord) -> dict[str, Any]:
    """``GET /v1.0/me/presence``: availability and activity (needs ``Presence.Read``)."""
    availability, activity = presence_of(request).get(user.id)
    base = ctx.base_url(request.scope)
    return {
        "@odata.context": f"{base}/{_version(request)}/$metadata#users('{user.id}')"
        "/presence/$entity",
        "id": user.id,
        "availability": availability,
        "activity": activity,
    }


def routes() -> list[Route]:
    """Graph routes (with and without the trailing slash some clients send) and the page."""
    found: list[Route] = []
    for version in ("v1.0", "beta"):
        for path, endpoint, name in (
            ("me", me, "graph_me"),
            ("me/presence", presence, "graph_presence"),
            ("users/{key}", user_by_key, "graph_user"),
        ):
            suffix = "" if version == "v1.0" else "_beta"
            found.append(Route(f"/{version}/{path}", endpoint, methods=["GET"], name=name + suffix))
            found.append(Route(f"/{version}/{path}/", endpoint, methods=["GET"]))
    found.append(Route("/oidc/userinfo", userinfo, methods=["GET", "POST"], name="userinfo"))
    return [*found, *presence_page_routes()]
