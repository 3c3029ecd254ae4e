"""The verification pages (RFC 8628 §3.3): enter code -> sign in -> confirm -> result.

``GET /devicelogin`` shows the code form; ``GET /devicelogin?code=...`` is the
``verification_uri_complete`` of §3.3.1, which spares the typing: the form comes pre-filled, and
the code is shown again on the confirm page so the user compares it with the device ("the
authorization server SHOULD display the user_code ... and instruct the user to confirm"). A GET
never looks a code up: wrong codes count against the address, and a GET can be sent by any page
the victim visits (six image tags would lock their address out), so only the CSRF-checked POST
does. Every form carries a CSRF token bound to the signed session cookie, and every code lookup
goes through the engine, which counts wrong codes per client address and per browser session
(§5.1) and answers 429 past the limit.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from deviceflow.server.endpoints._http import client_ip
from deviceflow.server.endpoints._pages import (
    authenticate,
    checked_form,
    forbidden,
    load_session,
    page,
    result_page,
)
from deviceflow.server.endpoints.context import ServerContext, context_of, format_time
from deviceflow.server.endpoints.session import Session
from deviceflow.server.grant import PendingRequest, VerificationError, normalise_user_code
from deviceflow.server.pages.codes import code_hint, shape_problem
from deviceflow.server.pages.permissions import describe_scopes

logger = logging.getLogger("deviceflow.server.verification")

_OUTCOMES: dict[str, tuple[int, str, str, str]] = {
    # kind: (status, title, message, detail)
    "unknown": (
        404,
        "Code not recognised",
        "We could not find that code.",
        "Check the code on your device and type it again.",
    ),
    "expired": (
        410,
        "Code expired",
        "This code has expired.",
        "Start the sign-in again on your device to get a new code.",
    ),
    "used": (
        409,
        "Code already used",
        "This code has already been used.",
        "Each code works once. If you did not use it, start again on your device.",
    ),
    "invalid": (
        400,
        "Code not valid here",
        "That code cannot be used here.",
        "Check the code on your device and type it again.",
    ),
    "network": (
        403,
        "Approve from the device's network",
        "This sign-in must be approved from the network the device is on.",
        "Connect this phone or computer to the same network as the device (for example the"
        " same Wi-Fi), then open the page again. If you did not start this sign-in yourself,"
        " close this page: someone may be trying to get into your account.",
    ),
    "rate_limited": (
        429,
        "Too many attempts",
        "Too many wrong codes were entered.",
        "For your security, code entry is paused for a while.",
    ),
}


def _outcome(
    request: Request, ctx: ServerContext, session: Session, error: VerificationError, fresh: bool
) -> Response:
    status, title, message, detail = _OUTCOMES.get(error.kind, _OUTCOMES["invalid"])
    limited = error.kind == "rate_limited"
    return result_page(
        request, ctx, session, title, message, detail,
        status=status, start_over=not limited, set_cookie=fresh,
        retry_after=(error.retry_after or 60) if limited else None,
    )  # fmt: skip


_CODE_FIELD_CHARS = 32
"""The code field's ``maxlength``: the most of a complete URI's ``code`` put into the form."""


_RETYPE = {"unknown", "invalid"}
"""Refusals answered with the code form again, the typed code kept: the person retypes it."""


def _enter_code(
    request: Request,
    ctx: ServerContext,
    session: Session,
    *,
    fresh: bool,
    status: int = 200,
    title: str = "Enter code",
    code: str = "",
    message: str | None = None,
) -> Response:
    """The code form: ``code`` pre-filled (cut to the field's ``maxlength``), ``message`` in
    an alert; the hint and placeholder describe the codes the tenants issue."""
    hint = code_hint(ctx.settings.user_code_formats())
    context = {
        "title": title,
        "message": message,
        "code": code.strip()[:_CODE_FIELD_CHARS],
        "hint": hint.text,
        "placeholder": hint.placeholder,
    }
    return page(request, ctx, session, "enter_code.html", context, status=status, set_cookie=fresh)


def _retype(
    request: Request, ctx: ServerContext, session: Session, code: str, error: VerificationError
) -> Response:
    """The code form after a wrong code: what was typed stays, the message says what is wrong."""
    status, title, message, detail = _OUTCOMES[error.kind]
    if error.kind == "unknown":  # a typo that cannot be a code is told how it differs
        formats = ctx.settings.user_code_formats()
        detail = shape_problem(normalise_user_code(code), formats) or detail
    text = f"{message} {detail}"
    return _enter_code(
        request, ctx, session, fresh=False, status=status, title=title, code=code, message=text
    )


def _sign_in(
    request: Request,
    ctx: ServerContext,
    session: Session,
    pending: PendingRequest,
    code: str,
    *,
    fresh: bool,
    username: str = "",
    message: str | None = None,
) -> Response:
    client_name = pending.client.name or pending.client.client_id
    tenant_name = pending.tenant.name or pending.tenant.id
    context = {
        "title": "Sign in",
        "action": request.url_for("devicelogin_signin"),
        "code": code,
        "username": username,
        "message": message,
        # The app being connected, then the organisation signed in to (unless the names match,
        # as in the demo: "Sign in to X to continue connecting X" reads as a mistake).
        "client_name": client_name,
        "tenant_name": tenant_name if tenant_name != client_name else "",
        "purpose": "",
    }
    return page(request, ctx, session, "sign_in.html", context, set_cookie=fresh)


def _lookup(
    request: Request, ctx: ServerContext, session: Session, code: str
) -> PendingRequest | Response:
    """The live request behind ``code``, or the page that says why there is none."""
    try:
        return ctx.engine.verification.lookup_user_code(
            user_code=code, ip=client_ip(request.scope), session=ctx.sessions.fingerprint(session)
        )
    except VerificationError as exc:
        return _outcome(request, ctx, session, exc, False)


async def _posted(
    request: Request,
) -> tuple[ServerContext, Session, dict[str, str], PendingRequest] | Response:
    """A form posted from the sign-in or confirm page, and the request its code names; or the
    page to answer with (a bad CSRF token, a code that no longer works)."""
    ctx = context_of(request)
    session, form = await checked_form(request, ctx)
    if form is None:
        return forbidden(request, ctx, session)
    pending = _lookup(request, ctx, session, form.get("code", ""))
    return pending if isinstance(pending, Response) else (ctx, session, form, pending)


async def devicelogin(request: Request) -> Response:
    """``GET /devicelogin[?code=...]``: the code form, pre-filled from a complete URI."""
    ctx = context_of(request)
    session, fresh = load_session(request, ctx)
    return _enter_code(
        request, ctx, session, fresh=fresh, code=request.query_params.get("code", "")
    )


async def submit_code(request: Request) -> Response:
    """``POST /devicelogin``: check the typed code, then ask the user to sign in."""
    ctx = context_of(request)
    session, form = await checked_form(request, ctx)
    if form is None:
        return forbidden(request, ctx, session)
    code = form.get("code", "").strip()
    if not code:
        return _enter_code(request, ctx, session, fresh=False, message="Enter a code.", status=400)
    try:
        pending = ctx.engine.verification.lookup_user_code(
            user_code=code, ip=client_ip(request.scope), session=ctx.sessions.fingerprint(session)
        )
    except VerificationError as exc:
        if exc.kind in _RETYPE:
            return _retype(request, ctx, session, code, exc)
        return _outcome(request, ctx, session, exc, False)
    return _sign_in(request, ctx, session, pending, code, fresh=False)


async def sign_in(request: Request) -> Response:
    """``POST /devicelogin/signin``: authenticate the user, then show the confirm page."""
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    ctx, session, form, pending = posted
    code = form.get("code", "")
    username = form.get("username", "").strip()
    password = form.get("password", "")
    user = await authenticate(
        request, ctx, session, tenant=pending.tenant, username=username, password=password
    )
    if isinstance(user, Response):
        return user
    if user is None:
        return _sign_in(
            request, ctx, session, pending, code, fresh=False, username=username,
            message="That username or password is not right.",
        )  # fmt: skip
    session = ctx.sessions.signed_in(session, user.id, pending.tenant.id)  # a new id and token
    return _confirm(request, ctx, session, pending, code, username=user.username)


def _confirm(
    request: Request,
    ctx: ServerContext,
    session: Session,
    pending: PendingRequest,
    code: str,
    *,
    username: str,
) -> Response:
    context = {
        "title": "Connect a device?",
        "client_name": pending.client.name,
        "client_uri": pending.client.client_uri,
        "username": username,
        "permissions": describe_scopes(pending.scopes),
        "user_code": pending.user_code,
        "code": code,
        "device_ip": pending.device_ip,
        "device_user_agent": pending.device_user_agent,
        "requested_at": format_time(pending.created_at),
        "expires_at": format_time(pending.expires_at),
        "network_warning": pending.network_warning,
    }
    return page(request, ctx, session, "confirm.html", context, set_cookie=True)


async def decide(request: Request) -> Response:
    """``POST /devicelogin/decide``: record Approve or Deny (once) and show the result."""
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    ctx, session, form, pending = posted
    code, decision = form.get("code", ""), form.get("decision", "")
    user = ctx.engine.user_by_id(session.user_id) if session.user_id else None
    if (
        user is None
        or session.tenant_id != pending.tenant.id
        or decision not in ("approve", "deny")
    ):
        return _sign_in(
            request, ctx, session, pending, code, fresh=False,
            message="Please sign in to continue.",
        )  # fmt: skip
    approve = decision == "approve"
    if approve and ctx.clock() - session.issued_at > ctx.settings.lifetimes.reauth:
        # A browser left signed in must not approve device after device for an hour: after
        # [lifetimes] reauth seconds, approving asks for the password again (denying does not).
        return _sign_in(
            request, ctx, session, pending, code, fresh=False, username=user.username,
            message="Please sign in again to approve this device.",
        )  # fmt: skip
    try:
        ctx.engine.verification.decide(
            user_code=code,
            approve=approve,
            user=user,
            ip=client_ip(request.scope),
            session=ctx.sessions.fingerprint(session),
            user_agent=request.headers.get("user-agent"),
        )
    except VerificationError as exc:
        return _outcome(request, ctx, session, exc, False)
    name = pending.client.name
    if approve:
        return result_page(
            request, ctx, session, "Device approved",
            f"You have signed in {name} on your device.",
            "You can close this window and return to your device.", tone="success",
            devices_link=True,
        )  # fmt: skip
    return result_page(
        request, ctx, session, "Access denied", f"You denied {name} access to your account.",
        "The device will not be signed in. You can close this window.",
    )  # fmt: skip


def routes() -> list[Route]:
    """The verification page routes (names are used by ``url_for`` in the templates)."""
    return [
        Route("/devicelogin", devicelogin, methods=["GET"], name="devicelogin"),
        Route("/devicelogin", submit_code, methods=["POST"], name="devicelogin_code"),
        Route("/devicelogin/signin", sign_in, methods=["POST"], name="devicelogin_signin"),
        Route("/devicelogin/decide", decide, methods=["POST"], name="devicelogin_decide"),
    ]
