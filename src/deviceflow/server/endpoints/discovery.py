"""Discovery: OpenID Connect metadata per tenant, RFC 8414 metadata, and the JWKS.

``GET /{tenant}/v2.0/.well-known/openid-configuration`` answers with the URLs under the tenant
segment the caller used (MSAL takes its cache realm from the first path segment of
``token_endpoint``). The tenant's dialect names the ``issuer``: an RFC tenant's is the URL the
document was fetched under (``{base}/{segment}/v2.0``, RFC 8414 §3.3), and the tokens issued
under that segment carry it; a Microsoft tenant's names the tenant by GUID whatever the segment,
as Entra does, and for the multi-tenant segments ``common``, ``organizations`` and ``consumers``
carries Entra's literal ``{tenantid}`` placeholder. RFC 8414 §3 puts the well-known segment
between host and issuer path (``/.well-known/oauth-authorization-server/{tenant}/v2.0``); the
same document is also served under the issuer path for clients that append it there. The device
flow adds ``device_authorization_endpoint`` (RFC 8628 §4). The tenant's dialect spells the
document (:meth:`~deviceflow.server.dialects.Dialect.metadata`: Microsoft tenants get Entra's
members in Entra's order, reference §2); the v1 document and the Microsoft-only extras live in
``endpoints.microsoft``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deviceflow.server.dialects import Discovery
from deviceflow.server.endpoints.context import ServerContext, context_of
from deviceflow.server.errors import error_response
from deviceflow.server.settings import Tenant

_CACHE = {"Cache-Control": "public, max-age=3600"}


def issuer_for(ctx: ServerContext, segment: str, tenant: Tenant) -> str:
    """The ``iss`` of the tokens ``tenant`` issues under ``segment`` (the dialect names it)."""
    return ctx.engine.issuer(tenant, ctx.dialect(tenant).issuer_name(segment, tenant.guid))


def resolve(request: Request) -> tuple[ServerContext, str, Tenant | None]:
    """The app's context, the tenant segment of the URL, and the tenant it names."""
    ctx = context_of(request)
    segment = request.path_params["tenant"]
    return ctx, segment, ctx.settings.resolve_tenant(segment)


def unknown_tenant(request: Request) -> Response:
    """404 for a tenant segment that names no tenant, worded as Entra's (AADSTS90002)."""
    segment = request.path_params["tenant"][:64]
    description = (
        f"AADSTS90002: Tenant '{segment}' not found. Check to make sure you have the correct"
        " tenant ID and are signing into the correct cloud."
    )
    return error_response(request, status=404, error="invalid_tenant", description=description)


async def openid_configuration(request: Request) -> Response:
    """``GET /{tenant}/v2.0/.well-known/openid-configuration`` (OpenID Connect Discovery §4)."""
    ctx, segment, tenant = resolve(request)
    if tenant is None:
        return unknown_tenant(request)
    facts = Discovery(
        host=ctx.base_url(request.scope),
        segment=segment,
        issuer=issuer_for(ctx, segment, tenant),
        scopes=tuple(sorted({s for c in ctx.settings.clients for s in c.scopes} | {"openid"})),
    )
    return JSONResponse(ctx.dialect(tenant).metadata(facts), headers=_CACHE)


async def authorization_server_metadata(request: Request) -> Response:
    """RFC 8414 authorization server metadata for one tenant."""
    return await openid_configuration(request)


async def jwks(request: Request) -> Response:
    """``GET /{tenant}/discovery/v2.0/keys``: the public signing keys (RFC 7517)."""
    ctx, _segment, tenant = resolve(request)
    if tenant is None:
        return unknown_tenant(request)
    return JSONResponse(ctx.engine.jwks(), headers=_CACHE)


async def authorize(request: Request) -> Response:
    """``/{tenant}/oauth2/v2.0/authorize``: listed for clients that insist, not implemented."""
    return error_response(
        request,
        status=400,
        error="unsupported_response_type",
        description="This server only offers the device authorization grant.",
    )


def routes() -> list[Route]:
    """Discovery, metadata and JWKS routes."""
    return [
        Route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            openid_configuration,
            name="openid_configuration",
        ),
        Route(
            "/.well-known/oauth-authorization-server/{tenant}/v2.0",
            authorization_server_metadata,
            name="oauth_authorization_server",
        ),
        Route(
            "/{tenant}/v2.0/.well-known/oauth-authorization-server",
            authorization_server_metadata,
            name="oauth_authorization_server_alt",
        ),
        Route("/{tenant}/discovery/v2.0/keys", jwks, name="jwks"),
        Route("/{tenant}/oauth2/v2.0/authorize", authorize, name="authorize"),
    ]
