"""Graph's presence API: read one's own or others' presence, set and clear it.

- ``GET /v1.0/me/presence`` (``Presence.Read``) and ``GET /v1.0/users/{id}/presence``
  (``Presence.Read.All``; one's own with ``Presence.Read``): ``{"@odata.context", "id",
  "availability", "activity"}``.
- ``POST /v1.0/communications/getPresencesByUserId`` ``{"ids": [...]}`` (``Presence.Read.All``):
  ``{"value": [presence, ...]}`` for the ids of the caller's tenant (at most 650).
- ``POST /v1.0/me/presence/setPresence`` and ``/v1.0/users/{id}/presence/setPresence``
  ``{"sessionId", "availability", "activity", "expirationDuration"?}`` (``Presence.ReadWrite``;
  another user's with ``Presence.ReadWrite.All``): only Graph's five pairs (Available/Available,
  Busy/InACall, Busy/InAConferenceCall, Away/Away, DoNotDisturb/Presenting); an empty 200.
- ``POST .../presence/clearPresence`` ``{"sessionId"}``: the user's presence becomes
  Offline/Offline, as when an application's session was the user's only one; an empty 200.

Graph aggregates several applications' sessions and lets them expire; this emulation keeps one
presence per user (what the presence page and test control set as well), checks
``expirationDuration`` (``PT5M`` to ``PT4H``) without expiring anything.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from deviceflow.server.endpoints.context import ServerContext
from deviceflow.server.graph._auth import GraphError
from deviceflow.server.graph._endpoint import Caller, graph_endpoint, json_body, version
from deviceflow.server.graph._presence import presence_of
from deviceflow.server.settings import UserRecord

READ_SCOPES = ("Presence.Read", "Presence.ReadWrite", "Presence.Read.All")
READ_ALL = "Presence.Read.All"
WRITE_SCOPES = ("Presence.ReadWrite", "Presence.ReadWrite.All")
WRITE_ALL = "Presence.ReadWrite.All"
SETTABLE = frozenset(
    {
        ("Available", "Available"),
        ("Busy", "InACall"),
        ("Busy", "InAConferenceCall"),
        ("Away", "Away"),
        ("DoNotDisturb", "Presenting"),
    }
)
"""The ``(availability, activity)`` pairs ``setPresence`` accepts (Graph's table)."""
MAX_IDS = 650
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")


def user_in_tenant(request: Request, ctx: ServerContext, signed_in: UserRecord) -> UserRecord:
    """The user ``{key}`` (object id or userPrincipalName) of the caller's tenant.

    Raises:
        GraphError: 404 ``Request_ResourceNotFound`` for anyone else.
    """
    key = request.path_params["key"]
    found = _find(ctx, signed_in, key)
    if found is None:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{key[:128]}' does not exist or one of its queried reference-property"
            " objects are not present.",
        )
    return found


def _find(ctx: ServerContext, signed_in: UserRecord, key: str) -> UserRecord | None:
    key = key.lower()
    for user in ctx.settings.users:
        if user.tenant == signed_in.tenant and key in (
            user.id.lower(),
            user.preferred_username.lower(),
        ):
            return user
    # A user of the database (deviceflow admin): by object id, else by name in the tenant.
    accounts = ctx.engine.accounts
    stored = accounts.user_by_id(key)
    if stored is None:
        tenant = ctx.settings.tenant(signed_in.tenant)
        named = accounts.users_named(tenant, key) if tenant is not None else ()
        stored = named[0] if named else None
    return stored if stored is not None and stored.tenant == signed_in.tenant else None


def _presence(request: Request, ctx: ServerContext, user: UserRecord) -> dict[str, Any]:
    availability, activity = presence_of(request).get(user.id)
    return {"id": user.id, "availability": availability, "activity": activity}


def _entity(request: Request, ctx: ServerContext, user: UserRecord) -> dict[str, Any]:
    base = ctx.base_url(request.scope)
    context = f"{base}/{version(request)}/$metadata#users('{user.id}')/presence/$entity"
    return {"@odata.context": context, **_presence(request, ctx, user)}


def _target(request: Request, ctx: ServerContext, caller: Caller, everyone: str) -> UserRecord:
    """``/me`` or ``/users/{key}``; another user needs the ``everyone`` scope.

    Raises:
        GraphError: 404 for an unknown user, 403 without the ``everyone`` scope.
    """
    if "key" not in request.path_params:
        return caller.user
    user = user_in_tenant(request, ctx, caller.user)
    if user.id != caller.user.id and not caller.may(everyone):
        raise GraphError(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            scope=everyone,
        )
    return user


@graph_endpoint(READ_SCOPES)
async def get_presence(request: Request, ctx: ServerContext, caller: Caller) -> dict[str, Any]:
    """``GET /v1.0/me/presence`` and ``/v1.0/users/{id}/presence``."""
    return _entity(request, ctx, _target(request, ctx, caller, READ_ALL))


@graph_endpoint((READ_ALL,))
async def presences_by_user_id(
    request: Request, ctx: ServerContext, caller: Caller
) -> dict[str, Any]:
    """``POST /v1.0/communications/getPresencesByUserId`` ``{"ids": [...]}``."""
    ids = (await json_body(request)).get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise GraphError(400, "BadRequest", "ids must be an array of user ids.")
    if len(ids) > MAX_IDS:
        raise GraphError(400, "BadRequest", f"At most {MAX_IDS} ids may be requested at once.")
    users = [_find(ctx, caller.user, key) for key in dict.fromkeys(ids)]
    metadata = f"{ctx.base_url(request.scope)}/{version(request)}/$metadata"
    return {
        "@odata.context": f"{metadata}#Collection(microsoft.graph.presence)",
        "value": [_presence(request, ctx, user) for user in users if user is not None],
    }


def _session_id(body: dict[str, Any]) -> str:
    session = body.get("sessionId")
    if not isinstance(session, str) or not session.strip():
        raise GraphError(400, "BadRequest", "sessionId is required: the application's id.")
    return session


def _check_duration(value: Any) -> None:
    if value is None:
        return
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or not any(match.groups()):
        raise GraphError(400, "BadRequest", "expirationDuration must be an ISO 8601 duration.")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    if not 5 * 60 <= hours * 3600 + minutes * 60 + seconds <= 4 * 3600:
        raise GraphError(400, "BadRequest", "expirationDuration must be from PT5M to PT4H.")


@graph_endpoint(WRITE_SCOPES)
async def set_presence(request: Request, ctx: ServerContext, caller: Caller) -> None:
    """``POST /v1.0/me/presence/setPresence`` and ``/v1.0/users/{id}/presence/setPresence``."""
    user = _target(request, ctx, caller, WRITE_ALL)
    body = await json_body(request)
    _session_id(body)
    pair = (body.get("availability"), body.get("activity"))
    if pair not in SETTABLE:
        raise GraphError(
            400,
            "BadRequest",
            f"Unsupported availability and activity: {str(pair[0])[:64]}, {str(pair[1])[:64]}.",
        )
    _check_duration(body.get("expirationDuration"))
    presence_of(request).set(user.id, str(pair[0]), str(pair[1]))


@graph_endpoint(WRITE_SCOPES)
async def clear_presence(request: Request, ctx: ServerContext, caller: Caller) -> None:
    """``POST .../presence/clearPresence``: the user's presence becomes Offline/Offline."""
    user = _target(request, ctx, caller, WRITE_ALL)
    _session_id(await json_body(request))
    presence_of(request).set(user.id, "Offline", "Offline")


def routes() -> list[Route]:
    """The presence routes, under ``/v1.0`` and ``/beta``."""
    found: list[Route] = []
    for api in ("v1.0", "beta"):
        for who in ("me", "users/{key}"):
            found.append(Route(f"/{api}/{who}/presence", get_presence, methods=["GET"]))
            found.append(Route(f"/{api}/{who}/presence/", get_presence, methods=["GET"]))
            for action, endpoint in (
                ("setPresence", set_presence),
                ("clearPresence", clear_presence),
            ):
                found.append(Route(f"/{api}/{who}/presence/{action}", endpoint, methods=["POST"]))
        found.append(
            Route(
                f"/{api}/communications/getPresencesByUserId",
                presences_by_user_id,
                methods=["POST"],
            )
        )
    return found
