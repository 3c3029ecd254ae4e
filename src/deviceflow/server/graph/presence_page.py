"""A small page where the signed-in user sets their presence (what ``/me/presence`` returns).

It lets a presence light (or its tests) be driven without Teams: sign in with a user of any
tenant, pick availability and activity, save. Same session cookie and CSRF rules as the
verification pages.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from deviceflow.server.endpoints._pages import (
    authenticate,
    checked_form,
    forbidden,
    load_session,
    page,
)
from deviceflow.server.endpoints.context import ServerContext, context_of
from deviceflow.server.endpoints.session import Session
from deviceflow.server.graph._presence import ACTIVITIES, AVAILABILITIES, presence_of
from deviceflow.server.settings import UserRecord


def _sign_in_page(
    request: Request, ctx: ServerContext, session: Session, *, fresh: bool, message: str | None
) -> Response:
    context = {
        "title": "Sign in",
        "action": request.url_for("presence_signin"),
        "code": "",
        "username": "",
        "message": message,
        "tenant_name": "",
        "client_name": "",
        "purpose": "Sign in to set the presence (availability and activity) that devices"
        " reading your account see.",
    }
    return page(request, ctx, session, "sign_in.html", context, set_cookie=fresh)


def _presence_page(
    request: Request,
    ctx: ServerContext,
    session: Session,
    user: UserRecord,
    *,
    set_cookie: bool = False,
    message: str | None = None,
    saved: bool = False,
) -> Response:
    availability, activity = presence_of(request).get(user.id)
    context: dict[str, Any] = {
        "title": "Your presence",
        "display_name": user.display_name,
        "availability": availability,
        "activity": activity,
        "availabilities": AVAILABILITIES,
        "activities": ACTIVITIES,
        "message": message,
        "saved": saved,
    }
    return page(request, ctx, session, "presence.html", context, set_cookie=set_cookie)


def _user(ctx: ServerContext, session: Session) -> UserRecord | None:
    user = ctx.engine.user_by_id(session.user_id) if session.user_id else None
    return user if user is not None and user.enabled else None


async def presence_page(request: Request) -> Response:
    """``GET /presence``: the presence form, or a sign-in form first."""
    ctx = context_of(request)
    session, fresh = load_session(request, ctx)
    user = _user(ctx, session)
    if user is None:
        return _sign_in_page(request, ctx, session, fresh=fresh, message=None)
    return _presence_page(request, ctx, session, user, set_cookie=fresh)


async def presence_sign_in(request: Request) -> Response:
    """``POST /presence/signin``: sign in with a user of any tenant."""
    ctx = context_of(request)
    session, form = await checked_form(request, ctx)
    if form is None:
        return forbidden(request, ctx, session)
    username, password = form.get("username", "").strip(), form.get("password", "")
    # A user of any tenant; an unknown name costs one (dummy) argon2 check like a known one.
    user = await authenticate(
        request, ctx, session, tenant=None, username=username, password=password
    )
    if isinstance(user, Response):
        return user
    if user is not None:
        session = ctx.sessions.signed_in(session, user.id, user.tenant)  # a new id and token
        return _presence_page(request, ctx, session, user, set_cookie=True)
    message = "That username or password is not right."
    return _sign_in_page(request, ctx, session, fresh=False, message=message)


async def presence_update(request: Request) -> Response:
    """``POST /presence``: save availability and activity."""
    ctx = context_of(request)
    session, form = await checked_form(request, ctx)
    if form is None:
        return forbidden(request, ctx, session)
    user = _user(ctx, session)
    if user is None:
        return _sign_in_page(request, ctx, session, fresh=False, message="Please sign in.")
    availability, activity = form.get("availability", ""), form.get("activity", "")
    if availability not in AVAILABILITIES or activity not in ACTIVITIES:
        return _presence_page(request, ctx, session, user, message="Pick values from the lists.")
    presence_of(request).set(user.id, availability, activity)
    return _presence_page(request, ctx, session, user, message="Saved.", saved=True)


def routes() -> list[Route]:
    """The presence page routes."""
    return [
        Route("/presence", presence_page, methods=["GET"], name="presence_page"),
        Route("/presence", presence_update, methods=["POST"], name="presence_update"),
        Route("/presence/signin", presence_sign_in, methods=["POST"], name="presence_signin"),
    ]
