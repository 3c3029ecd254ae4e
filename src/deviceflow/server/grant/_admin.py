"""Introspection (RFC 7662) and the "revoke everything from this user code" admin action.

Both answer the "Recover" part of RFC 10027: once a phished code is known, every token obtained
through it is revoked, and resource servers asking about such a token hear ``active: false``.
"""

from __future__ import annotations

from typing import Any

from deviceflow.server.grant import _codes
from deviceflow.server.grant._cae import access_revoked, sessions_revoked
from deviceflow.server.grant._errors import GrantError
from deviceflow.server.grant._tokens import TokenService
from deviceflow.server.security import CodeHasher
from deviceflow.server.settings import Tenant, UserCodeFormat
from deviceflow.server.storage.base import DeviceGrant, Storage

INACTIVE: dict[str, Any] = {"active": False}


def introspect(
    tokens: TokenService,
    storage: Storage,
    hasher: CodeHasher,
    now: float,
    *,
    token: str,
    tenant: Tenant,
    previous_valid: bool,
) -> dict[str, Any]:
    """The RFC 7662 §2.2 answer for ``token`` asked at ``tenant``'s endpoint (by a caller the
    engine authenticated); a token of another tenant is not active there.

    "If the introspection call is properly authorized but the token is not active, does not
    exist on this server, or the protected resource is not allowed to introspect this particular
    token, then the authorization server MUST return an introspection response with the
    "active" field set to "false"" (§2.2).

    Inactive too: a refresh token or access token of a revoked family (a revoked device
    session, a reused refresh token, RFC 7009 revocation), a refresh token issued before its
    user's sign-in sessions were revoked (continuous access evaluation), and an access token
    dated from before that revocation (the ones the resource answers with a claims challenge).
    """
    record = storage.find_refresh(hasher.digest("refresh", token))
    if record is not None:
        alive = (
            record.status != "revoked"
            and not tokens.is_family_revoked(record.family_id)
            and not sessions_revoked(storage, record)
            and now < record.expires_at
            and (record.status == "active" or previous_valid)
        )
        if not alive or record.tenant_id != tenant.id:
            return dict(INACTIVE)
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": record.client_id,
            "scope": " ".join(record.scopes),
            "exp": int(record.expires_at),
            "iat": int(record.issued_at),
            "origin": record.origin,
        }
    try:
        claims = tokens.verify(token)
    except GrantError:
        return dict(INACTIVE)
    if claims.get("tid") != tenant.guid or access_revoked(storage, claims):
        return dict(INACTIVE)
    answer: dict[str, Any] = {
        "active": True,
        "token_type": "Bearer",
        "client_id": claims.get("azp"),
        "scope": claims.get("scp", ""),
        "username": claims.get("preferred_username"),
        "origin": claims.get("origin", "device_code"),
    }
    for name, key in (("exp", "exp"), ("iat", "iat"), ("nbf", "nbf"), ("sub", "sub")):
        answer[name] = claims.get(key)
    answer.update({"aud": claims.get("aud"), "iss": claims.get("iss"), "jti": claims.get("uti")})
    return answer


def grant_of_user_code(
    storage: Storage, hasher: CodeHasher, formats: tuple[UserCodeFormat, ...], user_code: str
) -> DeviceGrant | None:
    """The request holding ``user_code`` (any case, any separators), if any."""
    code = _codes.normalise_user_code(user_code)
    if not any(_codes.is_well_formed(code, fmt) for fmt in formats):
        return None
    return storage.find_grant(user_hash=hasher.digest("user", code))


def revoke_user_code(
    storage: Storage,
    tokens: TokenService,
    hasher: CodeHasher,
    formats: tuple[UserCodeFormat, ...],
    user_code: str,
    *,
    now: float,
) -> str | None:
    """Deny the request behind ``user_code`` (if still open) and revoke its session.

    Returns the code's digest, or ``None`` when no request holds that code.
    """
    grant = grant_of_user_code(storage, hasher, formats, user_code)
    if grant is None:
        return None
    for status in ("pending", "approved"):
        storage.update_grant(
            grant.device_hash, {"status": status}, {"status": "denied", "decided_at": now}
        )
    # Redeemed already: the poll wrote the family id in the same step as "consumed".
    grant = storage.find_grant(device_hash=grant.device_hash) or grant
    if grant.family_id:
        tokens.revoke_family(grant.family_id)
    return grant.user_hash
