"""Pages for one signed-in person: "your devices" (``endpoints.devices``) and the presence page
(``graph.presence_page``).

Both show a sign-in form first (a user of any tenant), then the person's own page; their POST
actions need the signed-in, enabled user of the session. Same session cookie and CSRF rules as
the verification pages (:mod:`._pages`). A :class:`PersonalPage` holds what differs: the
sign-in route's name, the sentence that says what signing in is for, and how the page renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from deviceflow.server.endpoints._pages import (
    authenticate,
    checked_form,
    forbidden,
    load_session,
    page,
)
from deviceflow.server.endpoints.context import ServerContext, context_of
from deviceflow.server.endpoints.session import Session
from deviceflow.server.settings import UserRecord

__all__ = ["PersonalPage", "SignedIn"]


class Render(Protocol):
    def __call__(
        self,
        request: Request,
        ctx: ServerContext,
        session: Session,
        user: UserRecord,
        *,
        set_cookie: bool = False,
        message: str | None = None,
    ) -> Response: ...


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A POST action's request: its context, session, checked form and signed-in user."""

    ctx: ServerContext
    session: Session
    form: dict[str, str]
    user: UserRecord


@dataclass(frozen=True, slots=True)
class PersonalPage:
    """One person's page behind a sign-in form."""

    signin_route: str
    """The route name the sign-in form posts to."""
    purpose: str
    """What the sign-in form says signing in is for."""
    render: Render
    """The page itself, for the signed-in ``user``."""

    def sign_in_page(
        self,
        request: Request,
        ctx: ServerContext,
        session: Session,
        *,
        fresh: bool,
        message: str | None,
    ) -> Response:
        context = {
            "title": "Sign in",
            "action": request.url_for(self.signin_route),
            "code": "",
            "username": "",
            "message": message,
            "tenant_name": "",
            "client_name": "",
            "purpose": self.purpose,
        }
        return page(request, ctx, session, "sign_in.html", context, set_cookie=fresh)

    async def show(self, request: Request) -> Response:
        """``GET``: the page, or the sign-in form first."""
        ctx = context_of(request)
        session, fresh = load_session(request, ctx)
        user = _user(ctx, session)
        if user is None:
            return self.sign_in_page(request, ctx, session, fresh=fresh, message=None)
        return self.render(request, ctx, session, user, set_cookie=fresh)

    async def sign_in(self, request: Request) -> Response:
        """``POST`` of the sign-in form: a user of any tenant, then the page."""
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
        if user is None:
            message = "That username or password is not right."
            return self.sign_in_page(request, ctx, session, fresh=False, message=message)
        session = ctx.sessions.signed_in(session, user.id, user.tenant)  # a new id and token
        return self.render(request, ctx, session, user, set_cookie=True)

    async def signed_in(self, request: Request) -> SignedIn | Response:
        """A POST action's checked form and signed-in user, or the answer that refuses it
        (a failed CSRF check; the sign-in form when nobody, or a disabled user, is signed in)."""
        ctx = context_of(request)
        session, form = await checked_form(request, ctx)
        if form is None:
            return forbidden(request, ctx, session)
        user = _user(ctx, session)
        if user is None:
            return self.sign_in_page(request, ctx, session, fresh=False, message="Please sign in.")
        return SignedIn(ctx, session, form, user)


def _user(ctx: ServerContext, session: Session) -> UserRecord | None:
    user = ctx.engine.user_by_id(session.user_id) if session.user_id else None
    return user if user is not None and user.enabled else None
