"""Helpers the HTML pages share: the session cookie, CSRF-checked forms, rendering, and the one
password check every sign-in form uses."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from deviceflow.server.endpoints._http import (
    BodyTooLargeError,
    FormError,
    client_ip,
    parse_form,
    read_body,
)
from deviceflow.server.endpoints.context import ServerContext, format_time
from deviceflow.server.endpoints.session import COOKIE_NAME, SESSION_LIFETIME, Session
from deviceflow.server.grant import SignInError
from deviceflow.server.settings import Tenant, UserRecord

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


def result_page(
    request: Request,
    ctx: ServerContext,
    session: Session,
    title: str,
    message: str,
    detail: str,
    *,
    tone: str = "error",
    status: int = 200,
    start_over: bool = False,
    retry_after: int | None = None,
    set_cookie: bool = False,
    headers: dict[str, str] | None = None,
    devices_link: bool = False,
) -> Response:
    """The result page: a title, a message and a detail; ``start_over`` links to the code form;
    ``retry_after`` (seconds) adds "try again after" with the time, and ``Retry-After``;
    ``devices_link`` links to the "your devices" page."""
    context: dict[str, Any] = {
        "title": title, "message": message, "detail": detail, "tone": tone,
        "start_over": start_over, "retry_at": None, "retry_minutes": None,
        "devices_link": devices_link,
    }  # fmt: skip
    headers = dict(headers or {})
    if retry_after is not None:
        wait = max(1, retry_after)
        context.update(retry_at=format_time(ctx.clock() + wait), retry_minutes=-(-wait // 60))
        headers["Retry-After"] = str(wait)
    return page(
        request, ctx, session, "result.html", context,
        status=status, set_cookie=set_cookie, headers=headers,
    )  # fmt: skip


def forbidden(request: Request, ctx: ServerContext, session: Session) -> Response:
    """The 403 page for a form that failed the CSRF check (with a fresh cookie)."""
    return result_page(
        request, ctx, session, "Please start again",
        "This form has expired or did not come from this site.",
        "Open the sign-in page again and re-enter the code from your device.",
        status=403, start_over=True, set_cookie=True,
    )  # fmt: skip


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


async def authenticate(
    request: Request,
    ctx: ServerContext,
    session: Session,
    *,
    tenant: Tenant | None,
    username: str,
    password: str,
) -> UserRecord | Response | None:
    """Check a password posted to any sign-in form (``tenant``: ``None`` for any tenant).

    Returns:
        The user; ``None`` when the name or the password is wrong; or the page refusing the
        sign-in unchecked: 429 after too many wrong passwords for the account or from the
        client's address (why, and until when), 503 when too many sign-ins wait for a check
        (try again shortly).
    """
    try:
        return await ctx.engine.sign_in.aauthenticate(
            tenant=tenant, username=username, password=password, ip=client_ip(request.scope)
        )
    except SignInError as error:
        if error.kind == "busy":
            return result_page(
                request, ctx, session, "Please try again",
                "Many sign-ins are being checked right now.",
                "Wait a few seconds, then go back and sign in again.",
                status=503, headers={"Retry-After": str(error.retry_after)},
            )  # fmt: skip
        return result_page(
            request, ctx, session, "Too many attempts", _REFUSALS[error.kind],
            "For your security, signing in is paused for a while.",
            status=429, retry_after=error.retry_after,
        )  # fmt: skip


_REFUSALS = {
    "account_locked": "Too many wrong passwords for this account.",
    "address_locked": "Too many wrong passwords were entered from your network.",
}
