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

from deviceflow.server.endpoints._pages import page
from deviceflow.server.endpoints._personal import PersonalPage
from deviceflow.server.endpoints.context import ServerContext
from deviceflow.server.endpoints.session import Session
from deviceflow.server.graph._presence import ACTIVITIES, AVAILABILITIES, presence_of
from deviceflow.server.settings import UserRecord


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


_PAGE = PersonalPage(
    signin_route="presence_signin",
    purpose="Sign in to set the presence (availability and activity) that devices"
    " reading your account see.",
    render=_presence_page,
)


async def presence_update(request: Request) -> Response:
    """``POST /presence``: save availability and activity."""
    asked = await _PAGE.signed_in(request)
    if isinstance(asked, Response):
        return asked
    ctx, session, user, form = asked.ctx, asked.session, asked.user, asked.form
    availability, activity = form.get("availability", ""), form.get("activity", "")
    if availability not in AVAILABILITIES or activity not in ACTIVITIES:
        return _presence_page(request, ctx, session, user, message="Pick values from the lists.")
    presence_of(request).set(user.id, availability, activity)
    return _presence_page(request, ctx, session, user, message="Saved.", saved=True)


def routes() -> list[Route]:
    """The presence page routes: ``GET /presence`` (the form, or a sign-in form first),
    ``POST /presence`` (save), ``POST /presence/signin`` (a user of any tenant)."""
    return [
        Route("/presence", _PAGE.show, methods=["GET"], name="presence_page"),
        Route("/presence", presence_update, methods=["POST"], name="presence_update"),
        Route("/presence/signin", _PAGE.sign_in, methods=["POST"], name="presence_signin"),
    ]
