"""Discovery: OpenID Connect metadata per tenant, RFC 8414 metadata, and the JWKS.

``GET /{tenant}/v2.0/.well-known/openid-configuration`` answers with the URLs under the tenant
segment the caller used (MSAL takes its cache realm from the first path segment of
``token_endpoint``), while ``issuer`` names the tenant by GUID, as Microsoft does; for the
multi-tenant segments ``common``, ``organizations`` and ``consumers`` it carries Entra's literal
``{tenantid}`` placeholder. RFC 8414 §3 puts the well-known segment between host and issuer path
(``/.well-known/oauth-authorization-server/{tenant}/v2.0``); the same document is also served
under the issuer path for clients that append it there. The device flow adds
``device_authorization_endpoint`` (RFC 8628 §4). Microsoft tenants get Entra's members in
Entra's order (reference §2); the v1 document and the Microsoft-only extras live in
``endpoints.microsoft``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deviceflow.server.endpoints.context import ServerContext, context_of
from deviceflow.server.errors import error_response
from deviceflow.server.settings import Tenant

_CACHE = {"Cache-Control": "public, max-age=3600"}
MULTI_TENANT = frozenset({"common", "organizations", "consumers"})
"""Segments whose discovery ``issuer`` holds the ``{tenantid}`` placeholder (reference §2)."""

_CLAIMS = [
    "sub", "iss", "aud", "exp", "iat", "nbf", "name", "preferred_username", "oid", "tid", "ver",
    "email",
]  # fmt: skip
_MS_CLAIMS = [
    "sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name",
    "tid", "ver", "at_hash", "c_hash", "email", "oid",
]  # fmt: skip


def issuer_for(ctx: ServerContext, request: Request, tenant: Tenant) -> str:
    """The ``iss`` of ``tenant``'s tokens: ``{base}/{tenant GUID}/v2.0``."""
    engine_issuer = getattr(ctx.engine, "issuer", None)
    if callable(engine_issuer):
        return str(engine_issuer(tenant))
    return f"{ctx.base_url(request.scope)}/{tenant.guid}/v2.0"


def _rfc_metadata(
    ctx: ServerContext, request: Request, segment: str, tenant: Tenant
) -> dict[str, Any]:
    host = ctx.base_url(request.scope)
    base = f"{host}/{segment}"
    scopes = sorted({s for c in ctx.settings.clients for s in c.scopes} | {"openid"})
    return {
        "issuer": issuer_for(ctx, request, tenant),
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "revocation_endpoint": f"{base}/oauth2/v2.0/revoke",
        "introspection_endpoint": f"{base}/oauth2/v2.0/introspect",
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "userinfo_endpoint": f"{host}/oidc/userinfo",
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        "response_types_supported": ["code"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": scopes,
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": _CLAIMS,
        "tenant_region_scope": None,
        "cloud_instance_name": "deviceflow.local",
        "msgraph_host": host.split("://", 1)[-1],
    }


def microsoft_metadata(
    ctx: ServerContext, request: Request, segment: str, tenant: Tenant
) -> dict[str, Any]:
    """Entra's v2.0 document (reference §2), every URL on our host under ``segment``.

    Our additions after Entra's members: ``revocation_endpoint`` and ``grant_types_supported``
    (RFC 8414), so RFC clients can use the same tenant.
    """
    host = ctx.base_url(request.scope)
    base = f"{host}/{segment}"
    issuer = issuer_for(ctx, request, tenant)
    if segment.lower() in MULTI_TENANT:
        issuer = f"{host}/{{tenantid}}/v2.0"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["none"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{host}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": _MS_CLAIMS,
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": None,
        "cloud_instance_name": "deviceflow.local",
        "cloud_graph_host_name": host.split("://", 1)[-1],
        "msgraph_host": host.split("://", 1)[-1],
        "rbac_url": f"{host}/rbac",
        "revocation_endpoint": f"{base}/oauth2/v2.0/revoke",
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
    }


def resolve(request: Request) -> tuple[ServerContext, str, Tenant | None]:
    """The app's context, the tenant segment of the URL, and the tenant it names."""
    ctx = context_of(request)
    segment = request.path_params["tenant"]
    return ctx, segment, ctx.settings.resolve_tenant(segment)


def unknown_tenant(request: Request) -> Response:
    """404 for a tenant segment that names no tenant."""
    return error_response(
        request, status=404, error="invalid_tenant", description="The tenant is not known here."
    )


async def openid_configuration(request: Request) -> Response:
    """``GET /{tenant}/v2.0/.well-known/openid-configuration`` (OpenID Connect Discovery §4)."""
    ctx, segment, tenant = resolve(request)
    if tenant is None:
        return unknown_tenant(request)
    build = microsoft_metadata if tenant.dialect == "microsoft" else _rfc_metadata
    return JSONResponse(build(ctx, request, segment, tenant), headers=_CACHE)


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
