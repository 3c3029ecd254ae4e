"""RFC 8628 spoken exactly: standard parameter names, response members and metadata.

Its defaults follow the RFC: early polls get ``slow_down`` (§3.5), device authorization
responses carry ``verification_uri_complete`` (§3.3.1), user codes come from the
``[user_code]`` table (§6.1), and a refresh token works once (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from deviceflow.server.dialects._registry import register
from deviceflow.server.dialects.base import DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT

if TYPE_CHECKING:
    from deviceflow.server.dialects.base import Discovery, Verification, Wire
    from deviceflow.server.grant import DeviceAuthorization, IssuedTokens, Reason
    from deviceflow.server.settings import Client, Rotation, UserCodeFormat

_CLAIMS = [
    "sub", "iss", "aud", "exp", "iat", "nbf", "name", "preferred_username", "oid", "tid", "ver",
    "email",
]  # fmt: skip


_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
"""Public clients name themselves; confidential ones send their secret either way."""


class Rfc8628Dialect:
    """The standard dialect (RFC 8628 §3.2, §3.4, §3.5; RFC 6749 §5.1, §5.2; RFC 8414 §2)."""

    name = "rfc8628"
    summary = "RFC 8628 and RFC 6749 exactly (standard members and error codes)"
    slow_down = True
    verification_uri_complete = True
    user_code: UserCodeFormat | None = None
    refresh_rotation: Rotation = "strict"
    cacheable_errors = True
    names_client_on_refresh = False  # RFC 6749 §6: a public client sends the refresh token only

    def grant_type(self, raw: str) -> str:
        """Return ``raw``: the standard dialect knows only the registered values."""
        return raw

    def issuer_name(self, segment: str, guid: str) -> str:
        """``segment`` itself: the issuer is the URL the metadata was fetched under (RFC 8414
        §3.3 "MUST be identical"), so every name of a tenant is an issuer of its own, and tokens
        obtained through that name's endpoints carry it.

        Raises:
            Nothing.
        """
        return segment

    def device_code(self, form: Mapping[str, str]) -> str | None:
        """The ``device_code`` parameter (RFC 8628 §3.4), or None when absent or empty.

        Raises:
            Nothing.
        """
        return form.get("device_code") or None

    def target(self, form: Mapping[str, str], wire: Wire) -> tuple[str | None, str | None]:
        """``scope`` (RFC 6749 §3.3) and, for Microsoft-minded clients, ``resource``."""
        return form.get("scope") or None, form.get("resource") or None

    def check_client(self, form: Mapping[str, str], client: Callable[[], Client | None]) -> None:
        """Nothing to check: the engine decides whether the client may use the grant.

        Raises:
            Nothing.
        """

    def device_authorization_body(
        self, authorization: DeviceAuthorization, verification: Verification, wire: Wire
    ) -> dict[str, Any]:
        """The RFC 8628 §3.2 members, ``verification_uri_complete`` (when on) and ``interval``."""
        body: dict[str, Any] = {
            "device_code": authorization.device_code,
            "user_code": authorization.user_code,
            "verification_uri": verification.uri,
        }
        if verification.complete:
            body["verification_uri_complete"] = verification.complete
        body["expires_in"] = int(authorization.expires_in)
        body["interval"] = int(authorization.interval)
        return body

    def token_body(self, tokens: IssuedTokens, wire: Wire) -> dict[str, Any]:
        """RFC 6749 §5.1 members; ``refresh_token`` and ``id_token`` only when issued."""
        body: dict[str, Any] = {
            "access_token": tokens.access_token,
            "token_type": tokens.token_type,
            "expires_in": int(tokens.expires_in),
            "scope": tokens.scope,
        }
        if tokens.refresh_token:
            body["refresh_token"] = tokens.refresh_token
        if tokens.id_token:
            body["id_token"] = tokens.id_token
        return body

    def error_body(
        self, error: str, detail: str, *, reason: Reason | None = None, wire: Wire | None = None
    ) -> dict[str, Any]:
        """RFC 6749 §5.2: ``error``, and ``detail`` as ``error_description`` (reasons are not)."""
        return {"error": error, "error_description": detail}

    def error_json(
        self, error: str, detail: str, *, reason: Reason | None = None, wire: Wire
    ) -> bytes:
        """:meth:`error_body`, encoded (it needs no per-request value: endpoints cache it)."""
        body = self.error_body(error, detail, reason=reason, wire=wire)
        return json.dumps(body, separators=(",", ":")).encode()

    def metadata(self, discovery: Discovery) -> dict[str, Any]:
        """RFC 8414 §2 metadata plus the OpenID Connect Discovery members clients look for."""
        host, base = discovery.host, discovery.base
        return {
            "issuer": discovery.issuer,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "revocation_endpoint": f"{base}/oauth2/v2.0/revoke",
            "introspection_endpoint": f"{base}/oauth2/v2.0/introspect",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "userinfo_endpoint": f"{host}/oidc/userinfo",
            "grant_types_supported": [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
            "response_types_supported": ["code"],
            "token_endpoint_auth_methods_supported": list(_AUTH_METHODS),
            "revocation_endpoint_auth_methods_supported": list(_AUTH_METHODS),
            "introspection_endpoint_auth_methods_supported": list(_AUTH_METHODS[1:]),
            "scopes_supported": list(discovery.scopes),
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": _CLAIMS,
            "tenant_region_scope": None,
            "cloud_instance_name": "deviceflow.local",
            "msgraph_host": host.split("://", 1)[-1],
        }


register(Rfc8628Dialect())
