"""The logout endpoint discovery advertises (``end_session_endpoint``; OpenID Connect
RP-Initiated Logout 1.0): sign this browser out of the pages.

``GET /{tenant}/oauth2/v2.0/logout`` (and v1's ``/{tenant}/oauth2/logout``) asks a signed-in
browser whether to sign out ("the OP SHOULD ask the End-User whether to log out", §2): a GET
changes nothing, since any web page can make a browser send one. The confirm form posts back,
CSRF-checked, and the browser gets a new, anonymous session (a new id, so a new CSRF token).

Then, or at once when nobody is signed in, the browser is sent to ``post_logout_redirect_uri``
(with ``state``, §3) only when it is exactly one the client named by ``client_id`` registered
(``[[clients]] post_logout_redirect_uris``) and the client may serve the tenant ("the OP MUST NOT
perform post-logout redirection if the post_logout_redirect_uri value supplied does not exactly
match one of the previously registered post_logout_redirect_uris values", §3.1); otherwise it
sees a signed-out page. Tokens the user's devices hold are not touched: revocation is for those.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from deviceflow.server.endpoints._pages import (
    checked_form,
    forbidden,
    load_session,
    page,
    result_page,
    with_cookie,
)
from deviceflow.server.endpoints.context import ServerContext, context_of
from deviceflow.server.endpoints.discovery import unknown_tenant
from deviceflow.server.endpoints.session import Session
from deviceflow.server.pages import PAGE_HEADERS
from deviceflow.server.settings import Tenant

_PASSED = ("post_logout_redirect_uri", "client_id", "state")
"""The request parameters the confirm form carries on to the POST."""


def _redirect_target(ctx: ServerContext, tenant: Tenant, params: Mapping[str, str]) -> str | None:
    """``post_logout_redirect_uri`` (with ``state``) when its client registered it, else None."""
    uri = params.get("post_logout_redirect_uri", "")
    client = ctx.engine.accounts.client(params.get("client_id", ""))
    if not uri or client is None or uri not in client.post_logout_redirect_uris:
        return None
    if client.tenants is not None and tenant.id not in client.tenants:
        return None
    state = params.get("state")
    if state:
        uri += ("&" if "?" in uri else "?") + urlencode({"state": state})
    return uri


def _signed_out(
    request: Request,
    ctx: ServerContext,
    session: Session,
    tenant: Tenant,
    params: Mapping[str, str],
    *,
    set_cookie: bool,
) -> Response:
    """Back to the client's registered URI, or the signed-out page."""
    target = _redirect_target(ctx, tenant, params)
    if target is not None:
        response: Response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
        return with_cookie(response, request, ctx, session) if set_cookie else response
    return result_page(
        request, ctx, session, "Signed out", "You have signed out in this browser.",
        "You can close this window.", tone="success", set_cookie=set_cookie,
    )  # fmt: skip


def _tenant(request: Request) -> tuple[ServerContext, Tenant | None]:
    ctx = context_of(request)
    return ctx, ctx.settings.resolve_tenant(request.path_params["tenant"])


async def ask(request: Request) -> Response:
    """``GET .../logout``: ask a signed-in browser to confirm; otherwise it is signed out."""
    ctx, tenant = _tenant(request)
    if tenant is None:
        return unknown_tenant(request)
    session, fresh = load_session(request, ctx)
    params = {name: request.query_params.get(name, "") for name in _PASSED}
    user = ctx.engine.user_by_id(session.user_id) if session.user_id else None
    if user is None:
        return _signed_out(request, ctx, session, tenant, params, set_cookie=fresh)
    context = {
        "title": "Sign out",
        "username": user.username,
        "action": str(request.url.replace(query="")),
        "passed": [(name, value) for name, value in params.items() if value],
    }
    return page(request, ctx, session, "sign_out.html", context, set_cookie=fresh)


async def sign_out(request: Request) -> Response:
    """``POST .../logout`` (the confirm form): a new anonymous session, then back or done."""
    ctx, tenant = _tenant(request)
    if tenant is None:
        return unknown_tenant(request)
    session, form = await checked_form(request, ctx)
    if form is None:
        return forbidden(request, ctx, session)
    session = ctx.sessions.signed_out(session)
    return _signed_out(request, ctx, session, tenant, form, set_cookie=True)


def routes() -> list[Route]:
    """The logout routes, v2.0 and v1 (the paths the Microsoft dialect's discovery lists)."""
    v2, v1 = "/{tenant}/oauth2/v2.0/logout", "/{tenant}/oauth2/logout"
    return [
        Route(v2, ask, methods=["GET"], name="logout"),
        Route(v2, sign_out, methods=["POST"], name="logout_post"),
        Route(v1, ask, methods=["GET"], name="logout_v1"),
        Route(v1, sign_out, methods=["POST"], name="logout_v1_post"),
    ]
