"""The "your devices" page: a signed-in person sees each device signed in as them, and signs
one out (``GET /devices``, ``POST /devices/signin``, ``POST /devices/revoke``).

Each device is a session of the grant engine (:mod:`deviceflow.server.grant._sessions`): the
application, the address and software of its latest token request, when it signed in and when
it last got tokens. Signing a device out revokes its session: its next refresh answers
``invalid_grant``, and the person's other devices go on. Same session cookie and CSRF rules as
the verification pages; a person signs in with a user of any tenant, and only ever sees and
revokes their own sessions.
"""

from __future__ import annotations

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
from deviceflow.server.endpoints.context import ServerContext, context_of, format_time
from deviceflow.server.endpoints.session import Session
from deviceflow.server.settings import UserRecord


def _sign_in_page(
    request: Request, ctx: ServerContext, session: Session, *, fresh: bool, message: str | None
) -> Response:
    context = {
        "title": "Sign in",
        "action": request.url_for("devices_signin"),
        "code": "",
        "username": "",
        "message": message,
        "purpose": "Sign in to see the devices signed in as you, and to sign them out.",
    }
    return page(request, ctx, session, "sign_in.html", context, set_cookie=fresh)


def _devices_page(
    request: Request,
    ctx: ServerContext,
    session: Session,
    user: UserRecord,
    *,
    set_cookie: bool = False,
    message: str | None = None,
) -> Response:
    devices = [
        {
            "id": s.id,
            "application": s.application,
            "user_agent": s.user_agent,
            "ip": s.ip,
            "signed_in_at": format_time(s.signed_in_at),
            "last_used_at": format_time(s.last_used_at),
        }
        for s in ctx.engine.sessions.of_user(user.id)
    ]
    context = {
        "title": "Your devices",
        "display_name": user.display_name,
        "devices": devices,
        "message": message,
    }
    return page(request, ctx, session, "devices.html", context, set_cookie=set_cookie)


def _user(ctx: ServerContext, session: Session) -> UserRecord | None:
    user = ctx.engine.user_by_id(session.user_id) if session.user_id else None
    return user if user is not None and user.enabled else None


async def devices_page(request: Request) -> Response:
    """``GET /devices``: the person's devices, or a sign-in form first."""
    ctx = context_of(request)
    session, fresh = load_session(request, ctx)
    user = _user(ctx, session)
    if user is None:
        return _sign_in_page(request, ctx, session, fresh=fresh, message=None)
    return _devices_page(request, ctx, session, user, set_cookie=fresh)


async def devices_sign_in(request: Request) -> Response:
    """``POST /devices/signin``: sign in with a user of any tenant."""
    ctx = context_of(request)
    session, form = await checked_form(request, ctx)
    if form is None:
        return forbidden(request, ctx, session)
    username, password = form.get("username", "").strip(), form.get("password", "")
    user = await authenticate(
        request, ctx, session, tenant=None, username=username, password=password
    )
    if isinstance(user, Response):
        return user
    if user is None:
        message = "That username or password is not right."
        return _sign_in_page(request, ctx, session, fresh=False, message=message)
    session = ctx.sessions.signed_in(session, user.id, user.tenant)  # a new id and token
    return _devices_page(request, ctx, session, user, set_cookie=True)


async def devices_revoke(request: Request) -> Response:
    """``POST /devices/revoke``: sign one of the person's devices out."""
    ctx = context_of(request)
    session, form = await checked_form(request, ctx)
    if form is None:
        return forbidden(request, ctx, session)
    user = _user(ctx, session)
    if user is None:
        return _sign_in_page(request, ctx, session, fresh=False, message="Please sign in.")
    wanted = form.get("session", "")
    named = next((s for s in ctx.engine.sessions.of_user(user.id) if s.id == wanted), None)
    if named is None or not ctx.engine.sessions.revoke(user.id, wanted, by="user"):
        message = "That device is not signed in any more."
    else:
        message = f"{named.application} is signed out. It must sign in again to use your account."
    return _devices_page(request, ctx, session, user, message=message)


def routes() -> list[Route]:
    """The "your devices" page routes."""
    return [
        Route("/devices", devices_page, methods=["GET"], name="devices"),
        Route("/devices/signin", devices_sign_in, methods=["POST"], name="devices_signin"),
        Route("/devices/revoke", devices_revoke, methods=["POST"], name="devices_revoke"),
    ]
