"""Helpers the HTML pages share: the session cookie, CSRF-checked forms, rendering."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from deviceflow.server.endpoints._http import BodyTooLargeError, FormError, parse_form, read_body
from deviceflow.server.endpoints.context import ServerContext
from deviceflow.server.endpoints.session import COOKIE_NAME, SESSION_LIFETIME, Session

logger = logging.getLogger("deviceflow.server.pages")


def load_session(request: Request, ctx: ServerContext) -> tuple[Session, bool]:
    """The request's session, or a new one; the flag says whether the cookie must be (re)set."""
    session = ctx.sessions.load(request.cookies.get(COOKIE_NAME))
    if session is None:
        return ctx.sessions.new(), True
    return session, False


def with_cookie(
    response: Response, request: Request, ctx: ServerContext, session: Session
) -> Response:
    """Attach ``session`` as an HttpOnly, SameSite=Lax cookie (Secure under TLS)."""
    secure = request.url.scheme == "https" or (ctx.settings.public_url or "").startswith("https:")
    response.set_cookie(
        COOKIE_NAME,
        ctx.sessions.dump(session),
        max_age=SESSION_LIFETIME,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return response


def page(
    request: Request,
    ctx: ServerContext,
    session: Session,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    set_cookie: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render a page whose forms carry ``session``'s CSRF token; optionally set the cookie."""
    context = {"csrf_token": ctx.sessions.csrf_token(session), **context}
    response = ctx.pages.render(request, name, context, status=status, headers=headers)
    return with_cookie(response, request, ctx, session) if set_cookie else response


async def read_form(request: Request) -> dict[str, str] | None:
    """The urlencoded form of ``request``, or None when the body is not a valid form.

    Reading stops at the form size cap (a larger ``Content-Length`` is refused unread).

    Raises:
        HTTPException: 413 for a body over the cap.
        ClientDisconnect: the client left mid-body (``QuietDisconnect`` ends the request).
    """
    try:
        return parse_form(await read_body(request.receive, request.scope))
    except BodyTooLargeError as exc:
        raise HTTPException(413, "The request body is too large.") from exc
    except FormError:
        return None


def forbidden(request: Request, ctx: ServerContext, session: Session) -> Response:
    """The 403 page for a form that failed the CSRF check (with a fresh cookie)."""
    context = {
        "title": "Please start again",
        "message": "This form has expired or did not come from this site.",
        "detail": "Open the sign-in page again and re-enter the code from your device.",
        "tone": "error",
        "retry_at": None,
        "retry_minutes": None,
        "start_over": True,
    }
    return page(request, ctx, session, "result.html", context, status=403, set_cookie=True)


async def checked_form(
    request: Request, ctx: ServerContext
) -> tuple[Session, dict[str, str] | None]:
    """The session and form of a POST; the form is None when the CSRF check fails.

    A POST without a valid session cookie, with a body that is not a form, or without this
    session's CSRF token is refused (the caller answers with :func:`forbidden`).
    """
    session, fresh = load_session(request, ctx)
    form = await read_form(request)
    if fresh or form is None or not ctx.sessions.check_csrf(session, form.get("csrf_token")):
        logger.info("form refused: missing session or bad CSRF token")
        return session, None
    return session, form
