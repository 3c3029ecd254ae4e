"""GrantEngine: the authorization server's decisions, framework-free, in three parts.

``engine.device`` (:mod:`.device`) is the device authorization grant from request to
redemption, polling included; ``engine.verification`` (:mod:`.verification`) is user-code entry
and approval; ``engine.sign_in`` (:mod:`._signin`) checks the passwords of every page; the engine
itself holds what they share (settings, storage, clock, randomness, audit, rate limits, the code
digest key, the client check) and the token side: refresh, revocation, introspection, signing
keys. Storage keeps every piece of state.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from deviceflow.server.audit import AuditLog
from deviceflow.server.grant import _admin
from deviceflow.server.grant._accounts import Accounts
from deviceflow.server.grant._cae import ContinuousAccess
from deviceflow.server.grant._clients import ClientAuthenticator
from deviceflow.server.grant._errors import GrantError
from deviceflow.server.grant._scopes import GRAPH_AUDIENCE
from deviceflow.server.grant._services import Services
from deviceflow.server.grant._sessions import DeviceSessions
from deviceflow.server.grant._signer import Signer
from deviceflow.server.grant._signin import PasswordSignIn
from deviceflow.server.grant._tokens import TokenService
from deviceflow.server.grant._types import IssuedTokens
from deviceflow.server.grant.device import DeviceCodeGrant
from deviceflow.server.grant.verification import Verification
from deviceflow.server.metrics import NO_METRICS, Recorder
from deviceflow.server.security import (
    CodeHasher,
    RateLimiter,
    fingerprint,
    secret_key_bytes,
)
from deviceflow.server.settings import Client, Settings, Tenant, UserRecord
from deviceflow.server.storage.base import Storage

__all__ = ["GRAPH_AUDIENCE", "GrantEngine"]


class GrantEngine:
    """Decides every step of the device and refresh grants; storage keeps the state.

    ``settings`` is read at each call, so the web layer may replace it (for example to fill in
    ``public_url`` once the server is bound). ``device`` answers device requests and polls;
    ``verification`` answers the verification pages.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        storage: Storage,
        clock: Callable[[], float],
        rng: Callable[[int], bytes],
        audit: AuditLog | None = None,
        recorder: Recorder = NO_METRICS,
    ) -> None:
        self.settings = settings
        self.recorder = recorder
        self._storage = storage
        self._clock = clock
        self._rng = rng
        self._audit = audit or AuditLog(observer=recorder.audited if recorder.enabled else None)
        self._limiter = RateLimiter(storage, clock)
        self._hasher: CodeHasher | None = None
        self.accounts = Accounts(lambda: self.settings, storage, clock)
        self._clients = ClientAuthenticator(
            lambda: self.settings,
            find=lambda client_id, for_poll: self.accounts.client(client_id, for_poll=for_poll),
            limiter=self._limiter,
            audit=self._audit,
        )
        self._signer = Signer(storage, clock)
        self._tokens = TokenService(
            settings=lambda: self.settings,
            storage=storage,
            signer=self._signer,
            hasher=self._code_hasher,
            clock=clock,
            rng=rng,
            audit=self._audit,
            users=self.accounts.user_by_id,
        )
        services = Services(
            settings=lambda: self.settings, storage=storage, clock=clock, rng=rng,
            audit=self._audit, limiter=self._limiter, hasher=self._code_hasher,
            client=self._client, poll_client=self._poll_client, tokens=self._tokens,
            accounts=self.accounts, recorder=recorder,
        )  # fmt: skip
        self.device = DeviceCodeGrant(services)
        self.verification = Verification(services, decided=self.device.decided)
        self.sign_in = PasswordSignIn(services)
        self.cae = ContinuousAccess(services, self._signer)
        self.sessions = DeviceSessions(services)

    # -- helpers ----------------------------------------------------------------------------

    def _code_hasher(self) -> CodeHasher:
        if self._hasher is None:
            if self.settings.secret_key:
                key = secret_key_bytes(self.settings.secret_key)
            else:
                fresh = base64.b64encode(self._rng(32)).decode()
                self._storage.put_value("secrets", "code_digest_key", fresh, replace=False)
                stored = self._storage.get_value("secrets", "code_digest_key")
                key = base64.b64decode(stored or fresh)
            self._hasher = CodeHasher(key)
        return self._hasher

    def _client(
        self, tenant: Tenant, client_id: str, secret: str | None = None, ip: str | None = None
    ) -> Client:
        return self._clients.client(tenant, client_id, secret, ip=ip)

    def _poll_client(self, tenant: Tenant, client_id: str, secret: str | None = None) -> Client:
        return self._clients.client(tenant, client_id, secret, for_poll=True)

    def issuer(self, tenant: Tenant, name: str | None = None) -> str:
        """``iss`` of this server's tokens for ``tenant``: ``{public_url}/{name}/v2.0``, the
        tenant's GUID by default (``name``: the dialect's ``issuer_name``)."""
        return self._tokens.issuer(tenant, name)

    # -- refresh, revocation, tokens ----------------------------------------------------------

    def refresh(
        self,
        *,
        tenant: Tenant,
        client_id: str | None,
        refresh_token: str,
        scope: str | None,
        ip: str,
        issuer_name: str | None = None,
        client_secret: str | None = None,
        resource: str | None = None,
        user_agent: str | None = None,
    ) -> IssuedTokens:
        """Redeem a refresh token (rotation per ``settings.refresh_rotation``; ``issuer_name``
        and ``resource`` as in ``device.poll``; ``ip`` and ``user_agent``: the device's request,
        kept with the new refresh token for the "your devices" page). Without ``client_id``, the
        token's own client, which must then be public: RFC 6749 §6 asks a public client for the
        refresh token alone.

        Raises:
            GrantError: ``invalid_client``, ``unauthorized_client``, ``invalid_grant``,
                ``invalid_scope``.
        """
        try:
            client_id = client_id or self._tokens.client_of(refresh_token)
            client = self._client(tenant, client_id, client_secret, ip)
            tokens = self._tokens.refresh(
                tenant=tenant,
                client=client,
                refresh_token=refresh_token,
                scope=scope,
                ip=ip,
                issuer_name=issuer_name,
                resource=resource,
                user_agent=user_agent,
            )
        except GrantError as exc:
            self.recorder.refresh(exc.reason or exc.error)
            raise
        self.recorder.refresh("issued")
        return tokens

    def revoke(
        self,
        *,
        tenant: Tenant,
        token: str,
        client_id: str | None,
        client_secret: str | None = None,
        ip: str | None = None,
    ) -> None:
        """RFC 7009 revocation of ``token`` by the client that asks at ``tenant``'s endpoint.

        §2.1: the request names its client (a confidential one authenticates, a public one
        sends its ``client_id``), and the server "verifies whether the token was issued to the
        client making the revocation request". Unknown tokens, and tokens of another tenant,
        are fine and change nothing (§2.2). ``ip``: the request's address (wrong secrets are
        limited per address too).

        Raises:
            GrantError: ``invalid_client`` (401) when no client of ``tenant`` is named or a
                confidential one does not authenticate; ``unauthorized_client`` when the token
                was issued to another client (nothing is revoked).
        """
        client = self._clients.identified(tenant, client_id, client_secret, ip=ip)
        self._tokens.revoke(token=token, client_id=client.client_id, tenant=tenant)

    def introspect(
        self,
        *,
        tenant: Tenant,
        token: str,
        client_id: str | None,
        client_secret: str | None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """RFC 7662 introspection: ``{"active": false}`` unless a live token of ``tenant``.

        The caller must authenticate as a confidential client of ``tenant`` (§2.1: a resource
        server); it then learns about any live token of the tenant, and about nothing else.

        Raises:
            GrantError: ``invalid_client`` (401) for any other caller.
        """
        self._clients.confidential(tenant, client_id, client_secret, ip=ip)
        return _admin.introspect(
            self._tokens,
            self._storage,
            self._code_hasher(),
            self._clock(),
            token=token,
            tenant=tenant,
            previous_valid=self.settings.refresh_rotation == "reusable",
        )

    def revoke_user_code(self, user_code: str) -> bool:
        """Admin action: kill a flow and revoke every token obtained through ``user_code``.

        For a phished code (RFC 10027 "Recover"): a pending or approved request is denied, and
        the session it produced (access tokens, refresh tokens) is revoked. Returns whether such a
        code existed.
        """
        found = _admin.revoke_user_code(
            self._storage,
            self._tokens,
            self._code_hasher(),
            self.settings.user_code_formats(),
            user_code,
            now=self._clock(),
        )
        if found is not None:
            self._audit.event("user_code_revoked", user_code=fingerprint(found))
        return found is not None

    def expire_user_code(self, user_code: str) -> bool:
        """Test control: end the lifetime of the request behind ``user_code`` now (its polls
        then answer ``expired_token``). Returns whether a live request held that code."""
        grant = _admin.grant_of_user_code(
            self._storage, self._code_hasher(), self.settings.user_code_formats(), user_code
        )
        if grant is None or not self._storage.update_grant(
            grant.device_hash, {"status": grant.status}, {"expires_at": self._clock()}
        ):
            return False
        self.device.decided(grant.device_hash)
        return True

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set publishing the signing key."""
        return self._signer.jwks()

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """The claims of a live access token of this server (audience/scope: the caller's job).

        Raises:
            GrantError: ``invalid_token`` (401).
        """
        return self._tokens.verify(token)

    # -- users ------------------------------------------------------------------------------

    def user_by_id(self, user_id: str) -> UserRecord | None:
        """The user with this object id (configured, else in the database)."""
        return self.accounts.user_by_id(user_id)

    def authenticate(
        self, *, tenant: Tenant, username: str, password: str, ip: str = "unknown"
    ) -> UserRecord | None:
        """The enabled user of ``tenant`` with this username and password, else ``None``.

        :meth:`PasswordSignIn.authenticate <deviceflow.server.grant._signin.PasswordSignIn.
        authenticate>` for one tenant: unknown users cost the same time as known ones, and
        wrong passwords are limited per account and per address ``ip``.

        Raises:
            SignInError: too many wrong passwords for the account or from ``ip``.
        """
        return self.sign_in.authenticate(tenant=tenant, username=username, password=password, ip=ip)
