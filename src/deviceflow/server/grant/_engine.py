"""GrantEngine: the device authorization grant (RFC 8628) from request to redemption.

Theory of operation. A device request creates one grant row keyed by the device code's digest,
with the user code's digest as a second unique key. The row moves ``pending`` -> ``approved`` or
``denied`` (the verification page, once) -> ``consumed`` (the poll that redeems it, once). Every
move is a compare-and-set in storage, so two approvers or fifty pollers in any number of server
instances see exactly one winner. Polls are judged against the row's ``last_poll_at`` (the last
*accepted* poll) and its ``interval``, which grows by 5 s at each ``slow_down``. Wrong user codes
and unknown device codes are counted in storage per IP (and per browser session).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from deviceflow.server.audit import AuditLog
from deviceflow.server.grant import _admin, _codes
from deviceflow.server.grant._clients import ClientAuthenticator
from deviceflow.server.grant._errors import GrantError, VerificationError
from deviceflow.server.grant._policy import device_policy
from deviceflow.server.grant._scopes import (
    GRAPH_AUDIENCE,
    for_resource,
    known_scopes,
    resolve_scopes,
)
from deviceflow.server.grant._signer import Signer
from deviceflow.server.grant._tokens import TokenService
from deviceflow.server.grant._types import (
    DeviceAuthorization,
    IssuedTokens,
    PendingRequest,
    PollCheck,
)
from deviceflow.server.security import (
    Bucket,
    CodeHasher,
    RateLimiter,
    fingerprint,
    secret_key_bytes,
    verify_password,
)
from deviceflow.server.settings import Client, Settings, Tenant, UserRecord
from deviceflow.server.storage.base import DeviceGrant, Storage

__all__ = ["GRAPH_AUDIENCE", "GrantEngine"]

AVAILABILITIES = frozenset(
    {"Available", "AvailableIdle", "Away", "BeRightBack", "Busy", "BusyIdle", "DoNotDisturb",
     "Offline", "PresenceUnknown"}
)  # fmt: skip
_MAX_CODE_ATTEMPTS = 16
_SLOW_DOWN_BURST = Bucket("slow_down_burst", 5, 60)
"""Five ``slow_down`` answers to one device code within a minute make a burst."""


class GrantEngine:
    """Decides every step of the device and refresh grants; storage keeps the state.

    ``settings`` is read at each call, so the web layer may replace it (for example to fill in
    ``public_url`` once the server is bound).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        storage: Storage,
        clock: Callable[[], float],
        rng: Callable[[int], bytes],
        audit: AuditLog | None = None,
    ) -> None:
        self.settings = settings
        self._storage = storage
        self._clock = clock
        self._rng = rng
        self._audit = audit or AuditLog()
        self._limiter = RateLimiter(storage, clock)
        self._hasher: CodeHasher | None = None
        self._clients = ClientAuthenticator(lambda: self.settings)
        self._signer = Signer(storage, clock)
        self._tokens = TokenService(
            settings=lambda: self.settings,
            storage=storage,
            signer=self._signer,
            hasher=self._code_hasher,
            clock=clock,
            rng=rng,
            audit=self._audit,
        )

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

    def _buckets(self) -> tuple[Bucket, Bucket, Bucket]:
        limits = self.settings.rate_limits
        return (
            Bucket("user_code_ip", limits.user_code_failures, limits.user_code_window),
            Bucket("user_code_session", limits.user_code_failures, limits.user_code_window),
            Bucket(
                "device_code_ip",
                limits.unknown_device_code_polls,
                limits.unknown_device_code_window,
            ),
        )

    def _client(self, tenant: Tenant, client_id: str, secret: str | None = None) -> Client:
        return self._clients.client(tenant, client_id, secret)

    def issuer(self, tenant: Tenant, name: str | None = None) -> str:
        """``iss`` of this server's tokens for ``tenant``: ``{public_url}/{name}/v2.0``, the
        tenant's GUID by default (``name``: the dialect's ``issuer_name``)."""
        return self._tokens.issuer(tenant, name)

    # -- device authorization (RFC 8628 §3.1, §3.2) -----------------------------------------

    def authorize_device(
        self,
        *,
        tenant: Tenant,
        client_id: str,
        scope: str | None,
        resource: str | None,
        device_ip: str,
        user_agent: str | None,
        client_secret: str | None = None,
    ) -> DeviceAuthorization:
        """Start a device flow: new device code and user code, stored only as digests.

        Raises:
            GrantError: ``invalid_client``, ``unauthorized_client`` or ``invalid_scope``.
        """
        client = self._client(tenant, client_id, client_secret)
        policy = device_policy(tenant, client)
        policy.check_enabled(tenant)
        if resource is not None and not (scope or "").strip():  # an unknown API: not a scope error
            for_resource(client.scopes, resource, known=known_scopes(self.settings.clients))
        scopes = resolve_scopes(client, scope, resource)
        policy.check_scopes(scopes)
        settings = self.settings
        fmt = tenant.user_code_format(settings.user_code)
        hasher = self._code_hasher()
        now = self._clock()
        for _ in range(_MAX_CODE_ATTEMPTS):
            device_code = _codes.generate_device_code(self._rng)
            user_code = _codes.generate_user_code(fmt, self._rng)
            grant = DeviceGrant(
                device_hash=hasher.digest("device", device_code),
                user_hash=hasher.digest("user", user_code),
                client_id=client.client_id,
                tenant_id=tenant.id,
                scopes=scopes,
                device_ip=device_ip,
                device_user_agent=user_agent,
                created_at=now,
                expires_at=now + settings.lifetimes.device_code,
                interval=settings.interval,
            )
            # A collision with a live user code is retried with a fresh code (checklist 1).
            if self._storage.insert_grant(grant):
                break
        else:
            raise GrantError("temporarily_unavailable", "no free user code", status=503)
        self._audit.event(
            "device_code_issued",
            device_code=fingerprint(grant.device_hash),
            user_code=fingerprint(grant.user_hash),
            client_id=client.client_id,
            tenant=tenant.id,
            scopes=" ".join(scopes),
            ip=device_ip,
        )
        return DeviceAuthorization(
            device_code=device_code,
            user_code=_codes.display_user_code(user_code, fmt),
            expires_in=settings.lifetimes.device_code,
            interval=settings.interval,
        )

    # -- polling and redemption (RFC 8628 §3.4, §3.5) ---------------------------------------

    def poll_check(
        self, *, tenant: Tenant, client_id: str, device_code: str, client_secret: str | None = None
    ) -> PollCheck:
        """The first step of :meth:`poll`: check the client, and the hot statement's arguments.

        The caller may then run the hot statement itself (:meth:`record_poll`, or the storage's
        awaitable twin): ``True`` means :meth:`pending`; ``False`` means
        ``poll(..., checked=check)``, which goes on with the full path.

        Raises:
            GrantError: ``invalid_client``, ``unauthorized_client`` (as :meth:`poll`).
        """
        client = self._client(tenant, client_id, client_secret)
        if not tenant.device_flow:  # a flow begun before the switch (the policy only refuses)
            device_policy(tenant, client).check_enabled(tenant)
        now = self._clock()
        leeway = self.settings.rate_limits.poll_leeway
        return PollCheck(
            device_hash=self._code_hasher().digest("device", device_code),
            client_id=client.client_id,
            tenant_id=tenant.id,
            now=now,
            leeway=leeway if tenant.enforces_slow_down else None,
        )

    def record_poll(self, check: PollCheck) -> bool:
        """Run the hot statement of ``check`` on the storage: ``True`` means :meth:`pending`."""
        return self._storage.record_poll(
            check.device_hash,
            client_id=check.client_id,
            tenant_id=check.tenant_id,
            now=check.now,
            leeway=check.leeway,
        )

    @staticmethod
    def pending() -> GrantError:
        """The answer to a pending poll that is on time (``record_poll`` said ``True``)."""
        return GrantError(
            "authorization_pending", "the user has not yet finished", reason="pending"
        )

    def poll(
        self,
        *,
        tenant: Tenant,
        client_id: str,
        device_code: str,
        ip: str,
        checked: PollCheck | None = None,
        issuer_name: str | None = None,
        client_secret: str | None = None,
        resource: str | None = None,
    ) -> IssuedTokens:
        """Answer one device access token request.

        ``checked``: the :meth:`poll_check` of this very request, whose ``record_poll`` the
        caller has already run and got ``False`` from; the full path follows. ``issuer_name``:
        the tenant name the tokens' ``iss`` carries (see :meth:`issuer`). ``resource``: the
        access token is for that API only (the refresh token keeps the whole grant).

        Raises:
            GrantError: ``authorization_pending``, ``slow_down``, ``access_denied``,
                ``expired_token``, ``invalid_grant`` (unknown, foreign or already redeemed code;
                disabled user), ``invalid_client``, ``unauthorized_client``, or ``rate_limited``
                (HTTP 429, ``retry_after``) once an IP has sent too many unknown codes.
        """
        check = checked or self.poll_check(
            tenant=tenant, client_id=client_id, device_code=device_code, client_secret=client_secret
        )
        # The hot path, one statement: a pending, live grant of this client polled on time.
        # Anything else (or a lost race) takes the full path below, which reads the row.
        if checked is None and self.record_poll(check):
            raise self.pending()
        client = self._client(tenant, client_id, client_secret)
        device_hash, now = check.device_hash, check.now
        leeway = self.settings.rate_limits.poll_leeway
        grant = self._storage.find_grant(device_hash=device_hash)
        if grant is None or grant.tenant_id != tenant.id or grant.client_id != client.client_id:
            raise self._unknown_device_code(ip)
        if grant.status == "consumed":
            raise self._replayed(grant, ip)
        if grant.status == "denied":
            raise GrantError("access_denied", "the user denied the request", reason="denied")
        if now >= grant.expires_at:
            raise GrantError("expired_token", "the device code has expired", reason="expired")
        # §3.5: "the client SHOULD wait at least the number of seconds specified by the interval
        # parameter"; on slow_down "the interval MUST be increased by 5 seconds for this and all
        # subsequent requests". Measured from the last accepted poll; the first is always accepted.
        last = grant.last_poll_at
        if tenant.enforces_slow_down and last is not None and now - last < grant.interval - leeway:
            self._storage.update_grant(
                device_hash, {"interval": grant.interval}, {"interval": grant.interval + 5}
            )
            self._audit.event(
                "slow_down",
                device_code=fingerprint(device_hash),
                ip=ip,
                interval=grant.interval + 5,
            )
            if self._limiter.record(_SLOW_DOWN_BURST, device_hash):  # a storm: one event
                self._audit.event("slow_down_burst", device_code=fingerprint(device_hash), ip=ip)
            raise GrantError("slow_down", f"poll at most every {grant.interval + 5} seconds")
        if grant.status == "pending":
            self._storage.update_grant(device_hash, {"last_poll_at": last}, {"last_poll_at": now})
            raise self.pending()
        scopes = grant.scopes  # a wrong resource is refused before the code is spent
        if resource:
            scopes = for_resource(scopes, resource, known=known_scopes(self.settings.clients))
        family = self._tokens.new_id()
        won = self._storage.update_grant(
            device_hash,
            {"status": "approved"},
            {"status": "consumed", "family_id": family, "last_poll_at": now},
        )
        if not won:
            raise self._replayed(self._storage.find_grant(device_hash=device_hash) or grant, ip)
        user = self.settings.user_by_id(grant.user_id or "")
        if user is None or not user.enabled:  # checklist 19: re-check at redemption
            raise GrantError(
                "invalid_grant", "the user account is disabled", reason="user_disabled"
            )
        tokens = self._tokens.issue(
            tenant=tenant,
            client=client,
            user=user,
            scopes=scopes,
            family_id=family,
            grant_type="device_code",
            issuer_name=issuer_name,
            granted=grant.scopes,
        )
        self._audit.event(
            "tokens_redeemed", device_code=fingerprint(device_hash), family=family, ip=ip
        )
        return tokens

    def _unknown_device_code(self, ip: str) -> GrantError:
        bucket = self._buckets()[2]
        wait = self._limiter.retry_after(bucket, ip)
        if wait is not None:
            return GrantError(
                "rate_limited", "too many unknown device codes", status=429, retry_after=wait
            )
        if self._limiter.record(bucket, ip):
            self._audit.event("unknown_device_code_lockout", ip=ip)
        return GrantError("invalid_grant", "unknown device code", reason="unknown_device_code")

    def _replayed(self, grant: DeviceGrant, ip: str) -> GrantError:
        # Checklist 8: a second redemption revokes what the first one got.
        if grant.family_id:
            self._tokens.revoke_family(grant.family_id)
        self._audit.event("redemption_replayed", device_code=fingerprint(grant.device_hash), ip=ip)
        return GrantError(
            "invalid_grant", "the device code was already redeemed", reason="code_redeemed"
        )

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
    ) -> IssuedTokens:
        """Redeem a refresh token (rotation per ``settings.refresh_rotation``; ``issuer_name`` and
        ``resource`` as in :meth:`poll`). Without ``client_id``, the token's own client, which
        must then be public: RFC 6749 §6 asks a public client for the refresh token alone.

        Raises:
            GrantError: ``invalid_client``, ``unauthorized_client``, ``invalid_grant``,
                ``invalid_scope``.
        """
        client_id = client_id or self._tokens.client_of(refresh_token)
        client = self._client(tenant, client_id, client_secret)
        return self._tokens.refresh(
            tenant=tenant,
            client=client,
            refresh_token=refresh_token,
            scope=scope,
            ip=ip,
            issuer_name=issuer_name,
            resource=resource,
        )

    def revoke(
        self, *, token: str, client_id: str | None, client_secret: str | None = None
    ) -> None:
        """RFC 7009 revocation; unknown tokens are fine. A named confidential client must
        authenticate (§2.1).

        Raises:
            GrantError: ``invalid_client`` (401) when a confidential client does not
                authenticate, ``unauthorized_client`` when the token belongs to another client.
        """
        client = self.settings.client(client_id) if client_id else None
        if client is not None:
            self._clients.authenticate(client, client_secret)
        self._tokens.revoke(token=token, client_id=client_id)

    def introspect(
        self, *, tenant: Tenant, token: str, client_id: str | None, client_secret: str | None
    ) -> dict[str, Any]:
        """RFC 7662 introspection: ``{"active": false}`` unless a live token of ``tenant``.

        The caller must authenticate as a confidential client of ``tenant`` (§2.1: a resource
        server); it then learns about any live token of the tenant, and about nothing else.

        Raises:
            GrantError: ``invalid_client`` (401) for any other caller.
        """
        self._clients.confidential(tenant, client_id, client_secret)
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

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set publishing the signing key."""
        return self._signer.jwks()

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """The claims of a live access token of this server (audience/scope: the caller's job).

        Raises:
            GrantError: ``invalid_token`` (401).
        """
        return self._tokens.verify(token)

    # -- verification page (RFC 8628 §3.3, §5.1) ----------------------------------------------

    def _grant_for_code(self, user_code: str, ip: str, session: str) -> DeviceGrant:
        now = self._clock()
        formats = self.settings.user_code_formats()
        code = _codes.normalise_user_code(user_code)
        if not code:
            raise VerificationError("invalid")
        hasher = self._code_hasher()
        ip_bucket, session_bucket, _ = self._buckets()
        # Counters are chosen after normalisation, so "wdjb mjht" and "WDJB-MJHT" share them.
        keys = ((ip_bucket, ip), (session_bucket, hasher.digest("session", session)))
        for bucket, key in keys:
            wait = self._limiter.retry_after(bucket, key)
            if wait is not None:
                self._audit.event("user_code_attempt", result="rate_limited", ip=ip)
                raise VerificationError("rate_limited", retry_after=wait)
        user_hash = hasher.digest("user", code)
        grant = None
        if any(_codes.is_well_formed(code, fmt) for fmt in formats):
            grant = self._storage.find_grant(user_hash=user_hash)
        if grant is None:
            # A success never resets these counters (checklist 3).
            reached = [self._limiter.record(bucket, key) for bucket, key in keys]
            self._audit.event(
                "user_code_attempt", user_code=fingerprint(user_hash), result="unknown", ip=ip
            )
            if any(reached):
                self._audit.event("user_code_lockout", ip=ip, session=fingerprint(keys[1][1]))
            self._count_global_failure(ip)
            raise VerificationError("unknown")
        result = (
            "used" if grant.status != "pending" else "expired" if now >= grant.expires_at else "ok"
        )
        self._audit.event(
            "user_code_attempt", user_code=fingerprint(user_hash), result=result, ip=ip
        )
        if result != "ok":
            raise VerificationError(result)  # type: ignore[arg-type]
        return grant

    def _count_global_failure(self, ip: str) -> None:
        # One alarm per window when wrong codes from all addresses together pass the threshold:
        # a distributed guesser stays under every per-IP limit but not under this one. It only
        # alerts; blocking everyone would hand attackers a denial of service.
        limits = self.settings.rate_limits
        bucket = Bucket(
            "user_code_global", limits.guessing_alarm_failures, limits.guessing_alarm_window
        )
        if self._limiter.record(bucket, "all"):
            self._audit.event(
                "guessing_alarm",
                failures=limits.guessing_alarm_failures,
                window=limits.guessing_alarm_window,
                last_ip=ip,
            )

    def _proximity(self, grant: DeviceGrant, ip: str) -> bool:
        """Apply the proximity policy to an approver at ``ip``; return whether to warn.

        Raises:
            VerificationError: ``network`` when the policy blocks the approver.
        """
        tenant = self.settings.tenant(grant.tenant_id)
        client = self.settings.client(grant.client_id)
        if tenant is None or client is None:
            return False
        verdict = device_policy(tenant, client).judge(grant.device_ip, ip)
        if verdict == "ok":
            return False
        self._audit.event(
            "proximity_mismatch",
            user_code=fingerprint(grant.user_hash),
            device_ip=grant.device_ip,
            ip=ip,
            action=verdict,
        )
        if verdict == "block":
            raise VerificationError("network")
        return True

    def lookup_user_code(self, *, user_code: str, ip: str, session: str) -> PendingRequest:
        """The live request behind an entered user code (any case, any separators).

        Raises:
            VerificationError: ``invalid`` (empty), ``unknown`` (counted against the IP and
                the session), ``expired``, ``used``, or ``rate_limited`` (with
                ``retry_after``; even for a correct code once the limit is reached).
        """
        grant = self._grant_for_code(user_code, ip, session)
        client = self.settings.client(grant.client_id)
        tenant = self.settings.tenant(grant.tenant_id)
        if client is None or tenant is None:  # the configuration changed under the request
            raise VerificationError("unknown")
        warn = self._proximity(grant, ip)
        return PendingRequest(
            user_code=_codes.display_user_code(
                _codes.normalise_user_code(user_code),
                tenant.user_code_format(self.settings.user_code),
            ),
            client=client,
            scopes=grant.scopes,
            device_ip=grant.device_ip,
            device_user_agent=grant.device_user_agent,
            created_at=grant.created_at,
            expires_at=grant.expires_at,
            tenant=tenant,
            network_warning=warn,
        )

    def authenticate(self, *, tenant: Tenant, username: str, password: str) -> UserRecord | None:
        """The enabled user of ``tenant`` with this username and password, else ``None``.

        Unknown users cost the same time as known ones (a dummy argon2 verification).
        """
        user = self.settings.user(tenant, username)
        ok = verify_password(user.password_hash if user else None, password)
        success = ok and user is not None and user.enabled
        # A name that matches no user may be a password typed into the wrong field: only known
        # usernames reach the audit log as they are, anything else as a keyed fingerprint.
        shown = (
            user.username
            if user is not None
            else "unknown:" + fingerprint(self._code_hasher().digest("username", username))
        )
        self._audit.event("sign_in", tenant=tenant.id, username=shown, result=success)
        return user if success else None

    def decide(
        self,
        *,
        user_code: str,
        approve: bool,
        user: UserRecord,
        ip: str,
        session: str,
        user_agent: str | None,
    ) -> None:
        """Approve or deny a request, once (checklist 9, 11); expired requests are refused.

        Raises:
            VerificationError: as :meth:`lookup_user_code`; ``used`` when someone decided
                first; ``invalid`` for a disabled user or one of another tenant.
        """
        grant = self._grant_for_code(user_code, ip, session)
        if user.tenant != grant.tenant_id or not user.enabled:
            raise VerificationError("invalid")
        if approve:
            self._proximity(grant, ip)  # a blocked approver can still deny
        status = "approved" if approve else "denied"
        won = self._storage.update_grant(
            grant.device_hash,
            {"status": "pending"},
            {"status": status, "user_id": user.id, "decided_at": self._clock()},
        )
        if not won:
            raise VerificationError("used")
        self._audit.event(
            f"grant_{status}",
            user_code=fingerprint(grant.user_hash),
            user_id=user.id,
            ip=ip,
            user_agent=(user_agent or "")[:200],
        )

    # -- users and presence (Graph emulation) --------------------------------------------------

    def user_by_id(self, user_id: str) -> UserRecord | None:
        """The configured user with this object id."""
        return self.settings.user_by_id(user_id)

    def get_presence(self, user_id: str) -> tuple[str, str]:
        """``(availability, activity)`` of a user; ``("Available", "Available")`` by default."""
        stored = self._storage.get_value("presence", user_id)
        if stored is None:
            return ("Available", "Available")
        availability, _, activity = stored.partition("\t")
        return (availability, activity)

    def set_presence(self, user_id: str, availability: str, activity: str) -> None:
        """Set a user's presence (Graph availability values).

        Raises:
            ValueError: an unknown availability, or an activity that is not a short word.
        """
        if availability not in AVAILABILITIES:
            raise ValueError(f"unknown availability {availability!r}")
        if not activity.isalnum() or len(activity) > 64:
            raise ValueError("activity must be a short word")
        self._storage.put_value("presence", user_id, f"{availability}\t{activity}")
