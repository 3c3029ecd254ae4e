"""Microsoft-only discovery extras: the v1 document, v1 keys, instance discovery, error page.

- ``GET /{tenant}/.well-known/openid-configuration``: the v1 (ADAL-era) document, ``issuer``
  ``https://sts.windows.net/{tid}/`` and ``microsoft_multi_refresh_token`` (reference §2, §8).
- ``GET /common/discovery/keys`` (and ``/{tenant}/discovery/keys``): the v1 JWKS location.
- ``GET /common/discovery/instance?api-version=1.1&authorization_endpoint=...``: instance
  discovery, for clients that cannot turn it off (shape from public recordings; unverified).
- ``GET /error?code=N``: where ``error_uri`` of a Microsoft error body points.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deviceflow.server.dialects._aadsts import describe_code
from deviceflow.server.dialects.microsoft import AUTH_METHODS, MULTI_TENANT, V1_ISSUER
from deviceflow.server.endpoints.context import context_of
from deviceflow.server.endpoints.discovery import resolve, unknown_tenant
from deviceflow.server.errors import error_response

_CACHE = {"Cache-Control": "public, max-age=3600"}


async def v1_openid_configuration(request: Request) -> Response:
    """``GET /{tenant}/.well-known/openid-configuration``: the v1 document."""
    ctx, segment, tenant = resolve(request)
    if tenant is None:
        return unknown_tenant(request)
    host = ctx.base_url(request.scope)
    base = f"{host}/{segment}"
    multi = segment.lower() in MULTI_TENANT
    doc = {
        "token_endpoint": f"{base}/oauth2/token",
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "jwks_uri": f"{host}/common/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": [
            "code",
            "id_token",
            "code id_token",
            "token id_token",
            "token",
        ],  # fmt: skip
        "scopes_supported": ["openid"],
        "issuer": V1_ISSUER.format(tid="{tenantid}" if multi else tenant.guid),
        "microsoft_multi_refresh_token": True,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        # Whether Entra lists it here is unverified; ADAL-era clients are told where it is.
        "device_authorization_endpoint": f"{base}/oauth2/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/logout",
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "amr",
            "nonce",
            "email",
            "given_name",
            "family_name",
            "nickname",
        ],  # fmt: skip
        "tenant_region_scope": None,
        "cloud_instance_name": "deviceflow.local",
        "cloud_graph_host_name": host.split("://", 1)[-1],
        "msgraph_host": host.split("://", 1)[-1],
    }
    return JSONResponse(doc, headers=_CACHE)


async def v1_keys(request: Request) -> Response:
    """``GET /common/discovery/keys``: the same keys as the v2.0 location."""
    ctx = context_of(request)
    segment = request.path_params.get("tenant", "common")
    if ctx.settings.resolve_tenant(segment) is None and segment.lower() != "common":
        return unknown_tenant(request)
    return JSONResponse(ctx.engine.jwks(), headers=_CACHE)


async def instance_discovery(request: Request) -> Response:
    """``GET /common/discovery/instance``: this host (with its port) is its own only alias."""
    ctx = context_of(request)
    host = ctx.base_url(request.scope)
    endpoint = request.query_params.get("authorization_endpoint", "")
    path = [p for p in urlsplit(endpoint).path.split("/") if p]
    segment = path[0] if path else "common"
    if ctx.settings.resolve_tenant(segment) is None:
        return error_response(
            request,
            status=400,
            error="invalid_instance",
            description="The authorization endpoint names no tenant known here.",
        )
    # Host and port: MSAL Node matches the authority's "host:port" against these names.
    name = urlsplit(host).netloc.lower() or host
    body = {
        "tenant_discovery_endpoint": f"{host}/{segment}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": name, "preferred_cache": name, "aliases": [name]}],
    }
    return JSONResponse(body, headers=_CACHE)


async def error_page(request: Request) -> Response:
    """``GET /error?code=N``: what an AADSTS number means here (``error_uri`` target)."""
    raw = request.query_params.get("code", "")
    code = int(raw) if raw.isdigit() and len(raw) <= 9 else None
    described = describe_code(code) if code is not None else None
    if described is None:
        return JSONResponse({"code": raw[:16], "error": None, "message": "Unknown code."}, 404)
    error, message = described
    return JSONResponse({"code": code, "error": error, "message": message}, headers=_CACHE)


def routes() -> list[Route]:
    """The Microsoft-only discovery routes."""
    return [
        Route("/common/discovery/keys", v1_keys, name="jwks_v1_common"),
        Route("/common/discovery/instance", instance_discovery, name="instance_discovery"),
        Route("/{tenant}/discovery/keys", v1_keys, name="jwks_v1"),
        Route(
            "/{tenant}/.well-known/openid-configuration",
            v1_openid_configuration,
            name="openid_configuration_v1",
        ),
        Route("/error", error_page, name="aadsts_error"),
    ]
