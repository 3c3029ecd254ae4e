"""Token issuance, refresh rotation, revocation (RFC 6749 §6, RFC 9700 §4.14, RFC 7009).

Theory of operation: every sign-in starts a *family* (one random id). Access tokens carry it as
``sid``; refresh tokens are rows tied to it. Revoking a family (a replayed device code, a reused
refresh token, RFC 7009 revocation of a refresh token) marks it in storage, and every token of
the family then fails: refreshes answer ``invalid_grant``, :meth:`TokenService.verify` answers
``invalid_token``. In ``strict`` rotation a refresh token works once: "the authorization server
cannot determine which party submitted the invalid refresh token, it will revoke the active
refresh token" (RFC 9700 §4.14.2), and here the whole family with it. In ``reusable`` mode the
previous token stays valid, as Entra behaves.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from deviceflow.server.audit import AuditLog
from deviceflow.server.grant._bounds import bounded_device
from deviceflow.server.grant._cae import sessions_revoked
from deviceflow.server.grant._codes import urlsafe
from deviceflow.server.grant._conditions import Conditions
from deviceflow.server.grant._errors import GrantError
from deviceflow.server.grant._policy import device_policy
from deviceflow.server.grant._scopes import (
    audience,
    for_resource,
    known_scopes,
    narrow_scopes,
    reported_scope,
)
from deviceflow.server.grant._signer import Signer
from deviceflow.server.grant._types import GrantType, IssuedTokens
from deviceflow.server.security import CodeHasher, fingerprint
from deviceflow.server.settings import Client, Settings, Tenant, UserRecord
from deviceflow.server.storage.base import RefreshRecord, Storage

_FAMILIES = "revoked_families"
_ACCESS = "revoked_access_tokens"


class TokenService:
    """Issues, refreshes, revokes and verifies tokens for one server."""

    def __init__(
        self,
        *,
        settings: Callable[[], Settings],
        storage: Storage,
        signer: Signer,
        hasher: Callable[[], CodeHasher],
        clock: Callable[[], float],
        rng: Callable[[int], bytes],
        audit: AuditLog,
        users: Callable[[str], UserRecord | None] | None = None,
    ) -> None:
        """``users``: the user of an object id (default: the configured ones)."""
        self._settings = settings
        self._users = users or (lambda user_id: self._settings().user_by_id(user_id))
        self._storage = storage
        self._signer = signer
        self._hasher = hasher
        self._clock = clock
        self._rng = rng
        self._audit = audit

    def new_id(self) -> str:
        """A random GUID (family ids, token ids) from the injected randomness."""
        return str(uuid.UUID(bytes=self._rng(16), version=4))

    def issuer(self, tenant: Tenant, name: str | None = None) -> str:
        """``iss`` of tokens for ``tenant``: ``{public_url}/{name}/v2.0``, by default with the
        tenant's GUID as the name (the tenant's dialect says which name a request gets)."""
        base = self._settings().public_url or "http://localhost"
        return f"{base.rstrip('/')}/{name or tenant.guid}/v2.0"

    def issue(
        self,
        *,
        tenant: Tenant,
        client: Client,
        user: UserRecord,
        scopes: tuple[str, ...],
        family_id: str,
        grant_type: GrantType,
        absolute_expires_at: float | None = None,
        granted: tuple[str, ...] | None = None,
        issuer_name: str | None = None,
        device: tuple[str | None, str | None] = (None, None),
    ) -> IssuedTokens:
        """Sign an access token for ``scopes`` (and an ID token for ``openid``) for ``user``.

        A refresh token is issued when ``offline_access`` is among ``scopes``; it carries
        ``granted``, the scope of the whole grant (default: ``scopes``), however much a refresh
        narrowed this access token's (RFC 6749 §6). ``issuer_name``: see :meth:`issuer`.
        ``device``: the address and ``User-Agent`` of the device's token request, kept with
        the refresh token (clipped) for the "your devices" page.

        Raises:
            GrantError: ``invalid_grant`` when an emulated sign-in condition refuses
                (:mod:`._conditions`).
        """
        settings = self._settings()
        lifetimes = settings.lifetimes
        policy = device_policy(tenant, client)  # every session here began with a device code
        granted = policy.restrict(granted or scopes)
        scopes = policy.restrict(scopes)
        access_lifetime = policy.access_lifetime(lifetimes.access_token)
        now = self._clock()
        Conditions(storage=self._storage, settings=self._settings).admit(
            tenant=tenant,
            client=client,
            user=user,
            family_id=family_id,
            grant_type=grant_type,
            now=now,
            absolute_expires_at=absolute_expires_at,
        )
        issued = int(now)
        sub = urlsafe(hashlib.sha256(f"{client.client_id}:{user.id}".encode()).digest()[:24])
        common = {
            "iss": self.issuer(tenant, issuer_name),
            "iat": issued,
            "nbf": issued,
            "oid": user.id,
            "sub": sub,
            "tid": tenant.guid,
            "name": user.display_name,
            "preferred_username": user.preferred_username,
            "ver": "2.0",
        }
        access = {
            **common,
            "aud": audience(scopes),
            "exp": issued + access_lifetime,
            "scp": reported_scope(scopes),
            "azp": client.client_id,
            "azpacr": "0",
            "uti": self.new_id(),
            "sid": family_id,
            "origin": "device_code",  # protocol tracking (checklist 14): survives refreshes
        }
        id_token = None
        if "openid" in scopes:
            claims = {**common, "aud": client.client_id, "exp": issued + lifetimes.id_token}
            if "email" in scopes and user.mail:
                claims["email"] = user.mail
            id_token = self._signer.sign(claims)
        refresh_token = None
        if "offline_access" in scopes:
            refresh_token = urlsafe(self._rng(32))
            address, agent = bounded_device(device[0] or "", device[1])
            cap = absolute_expires_at or now + lifetimes.refresh_token_absolute
            self._storage.insert_refresh(
                RefreshRecord(
                    token_hash=self._hasher().digest("refresh", refresh_token),
                    family_id=family_id,
                    client_id=client.client_id,
                    tenant_id=tenant.id,
                    user_id=user.id,
                    scopes=granted,
                    origin="device_code",
                    issued_at=now,
                    expires_at=min(now + lifetimes.refresh_token, cap),
                    absolute_expires_at=cap,
                    ip=address or None,
                    user_agent=agent,
                )
            )
        return IssuedTokens(
            access_token=self._signer.sign(access),
            token_type="Bearer",
            expires_in=access_lifetime,
            scope=reported_scope(scopes),
            refresh_token=refresh_token,
            id_token=id_token,
            user=user,
            client=client,
            tenant=tenant,
            grant_type=grant_type,
        )

    def refresh(
        self,
        *,
        tenant: Tenant,
        client: Client,
        refresh_token: str,
        scope: str | None,
        ip: str,
        issuer_name: str | None = None,
        resource: str | None = None,
        user_agent: str | None = None,
    ) -> IssuedTokens:
        """Exchange a refresh token (see the module docstring for rotation).

        Raises:
            GrantError: ``invalid_grant`` (unknown, foreign, expired, revoked or reused token,
                disabled user, blocked device-code session), ``invalid_scope``.
        """
        settings = self._settings()
        now = self._clock()
        digest = self._hasher().digest("refresh", refresh_token)
        record = self._storage.find_refresh(digest)
        if record is None or record.client_id != client.client_id or record.tenant_id != tenant.id:
            raise GrantError("invalid_grant", "unknown refresh token", reason="refresh_unknown")
        if record.status == "revoked" or self.is_family_revoked(record.family_id):
            raise GrantError(
                "invalid_grant", "the refresh token was revoked", reason="refresh_revoked"
            )
        if sessions_revoked(self._storage, record):  # the user's sessions were revoked since
            raise GrantError(
                "invalid_grant", "the refresh token was revoked", reason="refresh_revoked"
            )
        if now >= record.expires_at:
            raise GrantError(
                "invalid_grant", "the refresh token has expired", reason="refresh_expired"
            )
        if record.origin == "device_code" and not tenant.device_code_refresh:
            raise GrantError(
                "invalid_grant",
                "sessions from the device code flow are blocked",
                reason="device_flow_blocked",
            )
        user = self._users(record.user_id)
        if user is None or not user.enabled:
            raise GrantError(
                "invalid_grant", "the user account is disabled", reason="user_disabled"
            )
        scopes = narrow_scopes(record.scopes, scope)
        if resource:  # an access token for that API only (RFC 8707 §2.2, Microsoft's v1)
            scopes = for_resource(scopes, resource, known=known_scopes(settings.clients))
        if settings.refresh_rotation == "strict":
            rotated = record.status == "active" and self._storage.update_refresh(
                digest, {"status": "active"}, {"status": "rotated"}
            )
            if not rotated:
                self.revoke_family(record.family_id)
                self._audit.event(
                    "refresh_reuse", token=fingerprint(digest), family=record.family_id, ip=ip
                )
                raise GrantError(
                    "invalid_grant", "the refresh token was already used", reason="refresh_reused"
                )
        return self.issue(
            tenant=tenant,
            client=client,
            user=user,
            scopes=scopes,
            family_id=record.family_id,
            grant_type="refresh_token",
            absolute_expires_at=record.absolute_expires_at,
            granted=record.scopes,  # §6: the new refresh token keeps the original scope
            issuer_name=issuer_name,
            device=(ip, user_agent),
        )

    def client_of(self, refresh_token: str) -> str:
        """The id of the client ``refresh_token`` was issued to.

        Raises:
            GrantError: ``invalid_grant``: no such refresh token.
        """
        record = self._storage.find_refresh(self._hasher().digest("refresh", refresh_token))
        if record is None:
            raise GrantError("invalid_grant", "unknown refresh token", reason="refresh_unknown")
        return record.client_id

    def revoke(self, *, token: str, client_id: str, tenant: Tenant) -> None:
        """RFC 7009: revoke a refresh token (its whole family) or an access token, issued to
        ``client_id`` in ``tenant``.

        Unknown and malformed tokens, and tokens of another tenant, are accepted silently and
        change nothing, as §2.2 asks.

        Raises:
            GrantError: ``unauthorized_client`` when the token belongs to another client.
        """
        digest = self._hasher().digest("refresh", token)
        record = self._storage.find_refresh(digest)
        if record is not None:
            if record.tenant_id != tenant.id:
                return
            if record.client_id != client_id:
                raise GrantError("unauthorized_client", "the token was issued to another client")
            self.revoke_family(record.family_id)
            self._audit.event("token_revoked", kind="refresh", token=fingerprint(digest))
            return
        try:
            claims = self._signer.verify(token)
        except GrantError:
            return
        if claims.get("tid") != tenant.guid:
            return
        if claims.get("azp") != client_id:
            raise GrantError("unauthorized_client", "the token was issued to another client")
        self._storage.put_value(_ACCESS, str(claims.get("uti")), str(self._clock()))
        self._audit.event("token_revoked", kind="access", uti=claims.get("uti"))

    def revoke_family(self, family_id: str) -> None:
        """Revoke every token of a sign-in."""
        self._storage.put_value(_FAMILIES, family_id, str(self._clock()))

    def is_family_revoked(self, family_id: str) -> bool:
        """Whether the sign-in ``family_id`` was revoked."""
        return self._storage.get_value(_FAMILIES, family_id) is not None

    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a live access token.

        Raises:
            GrantError: ``invalid_token`` (401) when invalid, expired or revoked.
        """
        claims = self._signer.verify(token)
        revoked = self._storage.get_value(_ACCESS, str(claims.get("uti"))) is not None
        if revoked or self.is_family_revoked(str(claims.get("sid"))):
            raise GrantError("invalid_token", "the token was revoked", status=401)
        return claims
