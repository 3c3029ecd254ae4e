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

from deviceflow.server.endpoints._pages import page
from deviceflow.server.endpoints._personal import PersonalPage
from deviceflow.server.endpoints.context import ServerContext, format_time
from deviceflow.server.endpoints.session import Session
from deviceflow.server.settings import UserRecord


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


_PAGE = PersonalPage(
    signin_route="devices_signin",
    purpose="Sign in to see the devices signed in as you, and to sign them out.",
    render=_devices_page,
)


async def devices_revoke(request: Request) -> Response:
    """``POST /devices/revoke``: sign one of the person's devices out."""
    asked = await _PAGE.signed_in(request)
    if isinstance(asked, Response):
        return asked
    ctx, user, wanted = asked.ctx, asked.user, asked.form.get("session", "")
    named = next((s for s in ctx.engine.sessions.of_user(user.id) if s.id == wanted), None)
    if named is None or not ctx.engine.sessions.revoke(user.id, wanted, by="user"):
        message = "That device is not signed in any more."
    else:
        message = f"{named.application} is signed out. It must sign in again to use your account."
    return _devices_page(request, ctx, asked.session, user, message=message)


def routes() -> list[Route]:
    """The "your devices" page routes: ``GET /devices`` (the person's devices, or a sign-in
    form first), ``POST /devices/signin`` (a user of any tenant), ``POST /devices/revoke``."""
    return [
        Route("/devices", _PAGE.show, methods=["GET"], name="devices"),
        Route("/devices/signin", _PAGE.sign_in, methods=["POST"], name="devices_signin"),
        Route("/devices/revoke", devices_revoke, methods=["POST"], name="devices_revoke"),
    ]
