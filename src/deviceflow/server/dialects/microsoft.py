"""The Microsoft identity platform's spelling of the one grant engine's results.

Theory of operation (see the microsoft-identity reference, §3-§8). Requests: MSAL sends the device
code as ``code`` as well as ``device_code``; ADAL-era clients send the bare ``device_code`` grant
type and ask for a ``resource`` instead of scopes (v1). Responses: Entra's members in Entra's
order; the v1 generation spells ``verification_url`` and sends numbers as strings, adds
``resource``, ``expires_on`` and ``not_before`` to token responses, and carries an unsigned v1 ID
token. Errors carry the AADSTS number three times (description prefix, ``error_codes``,
``error_uri``) plus trace, correlation and timestamp lines; the engine's neutral reasons become
AADSTS numbers in ``_aadsts``. A tenant's defaults: no ``slow_down`` (Microsoft documents none),
no ``verification_uri_complete``, 9-character user codes; Entra's refresh rotation (the previous
token stays valid) is what ``refresh_rotation = "microsoft"`` picks. Nothing here decides
anything: the engine has already done so; this module only spells.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import operator
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from deviceflow.server.dialects._aadsts import MicrosoftError, by_code, translate
from deviceflow.server.dialects._registry import register
from deviceflow.server.dialects.base import (
    DEVICE_CODE_GRANT,
    REFRESH_TOKEN_GRANT,
    Discovery,
    ParameterError,
    Verification,
    Wire,
)
from deviceflow.server.grant import GRAPH_AUDIENCE, GrantError
from deviceflow.server.settings import UserCodeFormat

if TYPE_CHECKING:
    from deviceflow.server.grant import DeviceAuthorization, IssuedTokens, Reason
    from deviceflow.server.settings import Client, Rotation

V1_ISSUER = "https://sts.windows.net/{tid}/"
"""``iss`` of v1 ID tokens and the v1 discovery document (reference §8)."""

USER_CODE = UserCodeFormat(charset="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", mask="XXXXXXXXX")
"""Entra's style (observed codes: ``BPPVYQZMA``, ``CWE5QHLNM``): 9 characters, 45 bits."""

MULTI_TENANT = frozenset({"common", "organizations", "consumers"})
"""Segments whose discovery ``issuer`` holds the ``{tenantid}`` placeholder (reference §2)."""

_CLAIMS = [
    "sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name",
    "tid", "ver", "at_hash", "c_hash", "email", "oid",
]  # fmt: skip

_MARKS = ("\x00trace\x00", "\x00correlation\x00", "\x00timestamp\x00")
"""Stand-ins for the per-request values while :meth:`MicrosoftDialect.error_json` encodes a
body's shape (no request can put a NUL in a trace id, and a client's text is escaped)."""
_MAX_TEMPLATES = 256
_Template = tuple[bytes, Callable[[tuple[bytes, bytes, bytes]], tuple[bytes, ...]]]
AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")
"""``token_endpoint_auth_methods_supported`` of both discovery documents."""


def _one(slots: list[int]) -> Callable[[tuple[bytes, bytes, bytes]], tuple[bytes, ...]]:
    """A template's value picker for fewer than two slots (``itemgetter`` of one is no tuple)."""
    return lambda values: tuple(values[slot] for slot in slots)


def b64url(data: bytes) -> str:
    """Unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def timestamp(now: float) -> str:
    """Entra's error timestamp: ``2022-08-25 09:34:07Z``."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(now))


def client_info(tokens: IssuedTokens) -> str:
    """``client_info``: base64url of ``{"uid": oid, "utid": tid}`` (MSAL's account key)."""
    info = {"uid": tokens.user.id, "utid": tokens.tenant.guid}
    return b64url(json.dumps(info, separators=(",", ":")).encode())


def resource_of(tokens: IssuedTokens, wire: Wire) -> str:
    """The v1 ``resource`` a token is for: as asked, else the API of its first prefixed scope."""
    if wire.resource:
        return wire.resource
    for scope in tokens.scope.split():
        if "/" in scope:
            return scope.rsplit("/", 1)[0]
    return GRAPH_AUDIENCE


def v1_id_token(tokens: IssuedTokens, now: float, lifetime: int) -> str:
    """The v1 ID token: ``sts.windows.net`` issuer, ``upn``/``unique_name``, unsigned.

    Microsoft's v1 samples show it with ``alg: none``; clients read it, nobody verifies it.
    """
    user, tenant = tokens.user, tokens.tenant
    pair = f"{tokens.client.client_id}:{user.id}"
    issued = int(now)
    claims: dict[str, Any] = {
        "aud": tokens.client.client_id,
        "iss": V1_ISSUER.format(tid=tenant.guid),
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "amr": ["pwd"],
        "family_name": user.surname,
        "given_name": user.given_name,
        "name": user.display_name,
        "oid": user.id,
        "sub": b64url(hashlib.sha256(pair.encode()).digest()[:24]),
        "tid": tenant.guid,
        "unique_name": user.preferred_username,
        "upn": user.preferred_username,
        "ver": "1.0",
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    header = {"typ": "JWT", "alg": "none"}
    parts = (json.dumps(p, separators=(",", ":")).encode() for p in (header, claims))
    return ".".join(b64url(p) for p in parts) + "."


class MicrosoftDialect:
    """Microsoft's v1 and v2.0 endpoints' dialect over the RFC grant engine."""

    name = "microsoft"
    summary = "Microsoft identity platform (v1 and v2.0 endpoints, Entra's bodies, AADSTS numbers)"
    slow_down = False  # Microsoft documents no slow_down (reference §5)
    verification_uri_complete = False  # Entra never sends it
    user_code: UserCodeFormat | None = USER_CODE
    refresh_rotation: Rotation = "reusable"  # the previous refresh token stays valid
    cacheable_errors = False  # every body carries a trace id and a timestamp
    names_client_on_refresh = True  # Entra: AADSTS900144 without client_id

    def __init__(self) -> None:
        self._templates: dict[tuple[str | None, ...], _Template] = {}
        """:meth:`error_json`'s encoded bodies by shape."""
        self._last_stamp: tuple[int, bytes] = (-1, b"")
        """The second of the last timestamp :meth:`error_json` wrote, and its text."""

    def grant_type(self, raw: str) -> str:
        """Accept ADAL's bare ``device_code`` grant type as the RFC URN."""
        return DEVICE_CODE_GRANT if raw == "device_code" else raw

    def issuer_name(self, segment: str, guid: str) -> str:
        """The tenant's GUID whatever the segment, as Entra does (reference §2): a strict client
        must be given the GUID issuer (``deviceflow serve`` prints it at start)."""
        return guid

    def device_code(self, form: Mapping[str, str]) -> str | None:
        """``device_code`` or MSAL's duplicate ``code`` (both may be present; then they must agree).

        Raises:
            ParameterError: ``device_code`` and ``code`` are both present and differ.
        """
        device_code = form.get("device_code") or None
        code = form.get("code") or None
        if device_code and code and device_code != code:
            raise ParameterError("device_code and code carry different values")
        return device_code or code

    def target(self, form: Mapping[str, str], wire: Wire) -> tuple[str | None, str | None]:
        """v2.0: ``scope``. v1: ``resource`` wins (Entra ignores ``scope`` there)."""
        scope = form.get("scope") or None
        resource = form.get("resource") or None
        if wire.version == "v1" and resource:
            return None, resource
        return scope, resource

    def check_client(self, form: Mapping[str, str], client: Callable[[], Client | None]) -> None:
        """A public client must not present a secret or an assertion (AADSTS700025).

        Raises:
            GrantError: ``invalid_client`` with AADSTS700025.
        """
        if not (form.get("client_secret") or form.get("client_assertion")):
            return  # nothing presented: no client to look up (most requests)
        named = client()
        if named is not None and named.public:
            raise GrantError(
                "invalid_client",
                "a public client presented a credential",
                reason="public_client_credential",
            )

    def device_authorization_body(
        self, authorization: DeviceAuthorization, verification: Verification, wire: Wire
    ) -> dict[str, Any]:
        """Entra's members and order; ``message`` is built from our own verification URI."""
        v1 = wire.version == "v1"
        body: dict[str, Any] = {
            "user_code": authorization.user_code,
            "device_code": authorization.device_code,
            ("verification_url" if v1 else "verification_uri"): verification.uri,
        }
        if verification.complete:
            body["verification_uri_complete"] = verification.complete
        expires_in, interval = int(authorization.expires_in), int(authorization.interval)
        body["expires_in"] = str(expires_in) if v1 else expires_in
        body["interval"] = str(interval) if v1 else interval
        body["message"] = (
            f"To sign in, use a web browser to open the page {verification.uri} "
            f"and enter the code {authorization.user_code} to authenticate."
        )
        return body

    def token_body(self, tokens: IssuedTokens, wire: Wire) -> dict[str, Any]:
        """v2.0 (integers, ``ext_expires_in``, ``client_info``) or v1 (strings, ``resource``)."""
        expires_in = int(tokens.expires_in)
        if wire.version == "v2":
            body: dict[str, Any] = {
                "token_type": tokens.token_type,
                "scope": tokens.scope,
                "expires_in": expires_in,
                "ext_expires_in": expires_in,
                "access_token": tokens.access_token,
            }
            if tokens.refresh_token:
                body["refresh_token"] = tokens.refresh_token
            if tokens.id_token:
                body["id_token"] = tokens.id_token
        else:
            now = int(wire.now)
            body = {
                "token_type": tokens.token_type,
                "scope": tokens.scope,
                "expires_in": str(expires_in),
                "ext_expires_in": str(expires_in),
                "expires_on": str(now + expires_in),
                "not_before": str(now),
                "resource": resource_of(tokens, wire),
                "access_token": tokens.access_token,
            }
            if tokens.refresh_token:
                body["refresh_token"] = tokens.refresh_token
            if tokens.id_token:
                body["id_token"] = v1_id_token(tokens, wire.now, expires_in)
        if wire.client_info:
            body["client_info"] = client_info(tokens)
        return body

    def error_body(
        self, error: str, detail: str, *, reason: Reason | None = None, wire: Wire | None = None
    ) -> dict[str, Any]:
        """Entra's error shape: ``error``, ``error_description`` (``AADSTSnnn: ...`` plus trace,
        correlation and timestamp lines), ``error_codes``, ``timestamp``, ``trace_id``,
        ``correlation_id``, ``error_uri``. Without a :class:`Wire`, only the first three."""
        spelled = translate(
            error,
            detail,
            reason,
            client_id=(wire.client_id if wire else None) or "",
            tenant=(wire.tenant if wire else None) or "",
            resource=(wire.resource if wire else None) or "",
        )
        return self._error_body(spelled, wire)

    def coded_error_body(
        self, code: int, error: str | None, detail: str, wire: Wire | None = None
    ) -> dict[str, Any]:
        """An error body carrying AADSTS ``code`` (the failures test control emulates): Entra's
        ``error`` and message for a number this server knows, else ``error`` and ``detail``."""
        known = by_code(
            code,
            client_id=(wire.client_id if wire else None) or "",
            tenant=(wire.tenant if wire else None) or "",
        )
        text = detail or (known.message if known else "Emulated failure.")
        name = error or (known.error if known else "invalid_grant")
        return self._error_body(MicrosoftError(name, code, text), wire)

    def error_json(
        self, error: str, detail: str, *, reason: Reason | None = None, wire: Wire
    ) -> bytes:
        """:meth:`error_body` as compact JSON bytes (what ``send_json`` would send).

        The body differs between requests only by its trace id, correlation id and timestamp, so
        it is encoded once per shape (error, text and the wire's other facts) with markers where
        those go, and filled in per request: a Microsoft tenant's pending poll costs no
        ``translate``, no dictionary and no JSON encoding.
        """
        key = (
            error, detail, reason, wire.version, wire.base_url, wire.client_id, wire.tenant,
            wire.resource,
        )  # fmt: skip
        template = self._templates.get(key)
        if template is None:
            # Only keys free of NUL are ever stored, so a hit needs no such check.
            if "\x00" in f"{wire.base_url}{wire.client_id}{wire.tenant}{wire.resource}":
                # A marker could hide in what the client wrote: no template for this one.
                body = self.error_body(error, detail, reason=reason, wire=wire)
                return json.dumps(body, separators=(",", ":")).encode()
            template = self._template(error, detail, reason, wire)
            if len(self._templates) >= _MAX_TEMPLATES:  # tenant names and client ids vary
                self._templates.clear()
            self._templates[key] = template
        trace = wire.trace_id.encode()
        correlation = trace
        if wire.correlation_id != wire.trace_id:  # the client's client-request-id: JSON-escaped
            correlation = json.dumps(wire.correlation_id)[1:-1].encode()
        second = int(wire.now)  # the timestamp, formatted once per second
        stamp = self._last_stamp
        if stamp[0] != second:
            stamp = self._last_stamp = (second, timestamp(second).encode())
        encoded, pick = template
        return encoded % pick((trace, correlation, stamp[1]))

    def _template(self, error: str, detail: str, reason: Reason | None, wire: Wire) -> _Template:
        """The encoded body with markers, as a ``bytes`` format (``%b`` where a value goes)
        and what picks the values in order (slots: 0 trace id, 1 correlation id, 2 timestamp)."""
        marked = dataclasses.replace(wire, trace_id=_MARKS[0], correlation_id=_MARKS[1])
        spelled = translate(
            error,
            detail,
            reason,
            client_id=wire.client_id or "",
            tenant=wire.tenant or "",
            resource=wire.resource or "",
        )
        raw = json.dumps(self._error_body(spelled, marked, _MARKS[2]), separators=(",", ":"))
        encoded = [json.dumps(mark)[1:-1] for mark in _MARKS]
        pieces = re.split("(" + "|".join(re.escape(e) for e in encoded) + ")", raw)
        slots = [encoded.index(pieces[i]) for i in range(1, len(pieces), 2)]
        literals = [piece.encode().replace(b"%", b"%%") for piece in pieces[0::2]]
        pick = operator.itemgetter(*slots) if len(slots) > 1 else _one(slots)
        return b"%b".join(literals), pick

    def _error_body(
        self, spelled: MicrosoftError, wire: Wire | None, stamp: str | None = None
    ) -> dict[str, Any]:
        name = spelled.error
        if name == "expired_token" and wire is not None and wire.version == "v1":
            name = "code_expired"  # ADAL's spelling (reference §8)
        text = f"AADSTS{spelled.code}: {spelled.message}"
        if wire is None:
            return {"error": name, "error_description": text, "error_codes": [spelled.code]}
        stamp = stamp or timestamp(wire.now)
        return {
            "error": name,
            "error_description": (
                f"{text}\r\nTrace ID: {wire.trace_id}\r\nCorrelation ID: {wire.correlation_id}"
                f"\r\nTimestamp: {stamp}"
            ),
            "error_codes": [spelled.code],
            "timestamp": stamp,
            "trace_id": wire.trace_id,
            "correlation_id": wire.correlation_id,
            "error_uri": f"{wire.base_url}/error?code={spelled.code}",
        }

    def metadata(self, discovery: Discovery) -> dict[str, Any]:
        """Entra's v2.0 document (reference §2), every URL on our host under the tenant segment.

        Our additions after Entra's members: ``revocation_endpoint`` and
        ``grant_types_supported`` (RFC 8414), so RFC clients can use the same tenant.
        """
        host, base = discovery.host, discovery.base
        issuer = discovery.issuer
        if discovery.segment.lower() in MULTI_TENANT:
            issuer = f"{host}/{{tenantid}}/v2.0"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            # Entra's list, minus private_key_jwt (not offered), plus public clients' "none".
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
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
            "claims_supported": _CLAIMS,
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": None,
            "cloud_instance_name": "deviceflow.local",
            "cloud_graph_host_name": host.split("://", 1)[-1],
            "msgraph_host": host.split("://", 1)[-1],
            "rbac_url": f"{host}/rbac",
            "revocation_endpoint": f"{base}/oauth2/v2.0/revoke",
            "grant_types_supported": [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
        }


register(MicrosoftDialect())
