"""The device authorization grant (RFC 8628): device request, polling, one-time redemption.

Theory of operation. A device request creates one grant row keyed by the device code's digest, with
the user code's digest as a second unique key. The row moves ``pending`` -> ``approved`` or
``denied`` (the verification page, once) -> ``consumed`` (the poll that redeems it, once). Every
move is a compare-and-set in storage, so two approvers or fifty pollers in any number of server
instances see exactly one winner. Polls are judged against the row's ``last_poll_at`` (the last
*accepted* poll) and its ``interval``, which grows by :data:`SLOW_DOWN_STEP` at each ``slow_down``
up to :data:`MAX_POLL_INTERVAL`; the on-time rule is :func:`~.on_time.polled_on_time`, and
:func:`~.on_time.pending_poll_sql` spells the same rule for SQL storage. A flow once answered
``slow_down`` is judged first by this instance's :class:`~._pacing.Pacer`, which answers its early
polls without a statement, and so is a flow storage confirmed pending: its on-time polls are
answered from memory until a decision or storage's change log says otherwise (:mod:`._pacing`).

A poll is answered with a value, the way the client core answers with events:
:data:`AUTHORIZATION_PENDING`, a :class:`SlowDown`, or the :class:`IssuedTokens`; only terminal
outcomes (denied, expired, unknown or replayed codes) raise :class:`GrantError`. Nearly every
poll of a fleet is pending, so a poll first runs one atomic statement in storage ("a pending,
live grant of this client, polled on time: record the poll", :meth:`Storage.record_poll`, or
its awaitable batched twin in :meth:`DeviceCodeGrant.apoll`) and answers pending when it
succeeds; anything else (or a lost race) takes the full path, which reads the row.
"""

from __future__ import annotations

from typing import NamedTuple

from deviceflow.server.grant import _codes
from deviceflow.server.grant._admission import admit_device_flow
from deviceflow.server.grant._answers import (
    AUTHORIZATION_PENDING,
    AuthorizationPending,
    CountedErrors,
    PollOutcome,
    SlowDown,
)
from deviceflow.server.grant._bounds import bounded_device
from deviceflow.server.grant._errors import GrantError
from deviceflow.server.grant._pacing import MAX_POLL_INTERVAL, SLOW_DOWN_STEP, Pacer
from deviceflow.server.grant._policy import device_policy
from deviceflow.server.grant._scopes import for_resource, known_scopes, resolve_scopes
from deviceflow.server.grant._services import Services
from deviceflow.server.grant._types import DeviceAuthorization, IssuedTokens
from deviceflow.server.grant.on_time import polled_on_time
from deviceflow.server.security import Bucket, address_key, fingerprint
from deviceflow.server.settings import Client, Tenant
from deviceflow.server.storage.base import DeviceGrant, PendingPoll, PollTerms, async_poll

__all__ = [
    "AUTHORIZATION_PENDING",
    "MAX_POLL_INTERVAL",
    "SLOW_DOWN_STEP",
    "AuthorizationPending",
    "DeviceCodeGrant",
    "PollOutcome",
    "SlowDown",
]

_MAX_CODE_ATTEMPTS = 16
_SLOW_DOWN_BURST = Bucket("slow_down_burst", 5, 60)
"""Five ``slow_down`` answers to one device code within a minute make a burst."""


class _Redemption(NamedTuple):
    """What a poll asks of the tokens, should it redeem the code."""

    issuer_name: str | None
    resource: str | None


class DeviceCodeGrant:
    """The device code grant from request to redemption (``GrantEngine.device``)."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._storage = services.storage
        self._batched = async_poll(services.storage)
        # What every poll uses, looked up once.
        self._settings, self._clock = services.settings, services.clock
        self._hasher, self._client = services.hasher, services.client
        self._polled = services.recorder.token_poll  # counts each answer (no-op without metrics)
        self._counting = CountedErrors(self._polled)  # ... and each terminal error
        # Flows answered slow_down: their early polls cost no statement (_pacing).
        self._pacer = Pacer(
            self._storage, lambda: max(MAX_POLL_INTERVAL, self._settings().interval)
        )

    # -- device authorization (RFC 8628 §3.1, §3.2) -----------------------------------------

    def authorize(
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

        ``client_secret``: what the client presented (HTTP Basic or the body), None for none.
        ``device_ip`` and ``user_agent`` are stored clipped (:mod:`._bounds`).

        Raises:
            GrantError: ``invalid_client``, ``unauthorized_client``, ``invalid_scope``,
                ``invalid_target`` (``reason="unknown_resource"``: a ``resource`` no client's
                scopes name, asked for without a scope), or ``rate_limited`` (HTTP 429,
                ``retry_after``) past the new flows allowed per address or per client
                (``[rate_limits]``); a refused request stores nothing.
        """
        try:
            client = self._s.client(tenant, client_id, client_secret)
            policy = device_policy(tenant, client)
            policy.check_enabled(tenant)
            if resource is not None and not (scope or "").strip():  # an unknown API, not a scope
                known = known_scopes(self._s.settings().clients)
                for_resource(client.scopes, resource, known=known)
            scopes = resolve_scopes(client, scope, resource)
            policy.check_scopes(scopes)
            device_ip, user_agent = bounded_device(device_ip, user_agent)
            admit_device_flow(self._s, client.client_id, device_ip)
            settings = self._s.settings()
            fmt = tenant.user_code_format(settings.user_code)
            hasher = self._s.hasher()
            now = self._s.clock()
            mark = self._pacer.mark(now)  # before the insert: see Pacer.created
            for _ in range(_MAX_CODE_ATTEMPTS):
                device_code = _codes.generate_device_code(self._s.rng)
                user_code = _codes.generate_user_code(fmt, self._s.rng)
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
            self._pacer.created(grant, mark)  # its polls here are answered from memory
            self._s.audit.event(
                "device_code_issued",
                device_code=fingerprint(grant.device_hash),
                user_code=fingerprint(grant.user_hash),
                client_id=client.client_id,
                tenant=tenant.id,
                scopes=" ".join(scopes),
                ip=device_ip,
            )
            issued = DeviceAuthorization(
                device_code=device_code,
                user_code=_codes.display_user_code(user_code, fmt),
                expires_in=settings.lifetimes.device_code,
                interval=settings.interval,
            )
        except GrantError as exc:
            self._s.recorder.device_authorization(tenant.id, client_id, exc.reason or exc.error)
            raise
        self._s.recorder.device_authorization(tenant.id, client_id, "issued")
        return issued

    # -- polling and redemption (RFC 8628 §3.4, §3.5) ---------------------------------------

    def poll(
        self,
        *,
        tenant: Tenant,
        client_id: str,
        device_code: str,
        ip: str,
        client_secret: str | None = None,
        issuer_name: str | None = None,
        resource: str | None = None,
    ) -> PollOutcome:
        """Answer one device access token request.

        ``client_secret``: what the client presented (a confidential client's is checked on
        every poll; a secret that passed once costs one digest after). ``issuer_name``: the
        tenant name the tokens' ``iss`` carries (``GrantEngine.issuer``). ``resource``: the
        access token is for that API only (the refresh token keeps the whole grant); a resource
        the grant holds nothing of is refused before the device code is spent.

        Returns:
            :data:`AUTHORIZATION_PENDING`; a :class:`SlowDown` (the interval grew by
            :data:`SLOW_DOWN_STEP`, for tenants that enforce it); or the tokens, once.

        Raises:
            GrantError: ``access_denied``, ``expired_token``, ``invalid_grant`` (unknown,
                foreign or already redeemed code; disabled user), ``invalid_client``,
                ``unauthorized_client``, or ``rate_limited`` (HTTP 429, ``retry_after``) once an
                IP has sent too many unknown codes; ``invalid_target`` for a wrong ``resource``.
                The grant is left as it was; a replayed code revokes the tokens it was redeemed
                for, and unknown codes count against ``ip``.
        """
        with self._counting:
            client, poll = self._pending_poll(tenant, client_id, device_code, client_secret)
            if self._pacer.pending(poll):  # most polls of a fleet: no statement (_pacing)
                self._polled("pending")
                return AUTHORIZATION_PENDING
            paced = self._paced_slow_down(poll, ip)
            mark = terms = None
            if paced is None:
                mark = self._pacer.mark(poll.now)  # before the statement: see Pacer.accepted
                terms = self._storage.record_poll(poll)
            asked = _Redemption(issuer_name, resource)
            return self._settled(paced, terms, mark, tenant, client, poll, ip, asked)

    async def apoll(
        self,
        *,
        tenant: Tenant,
        client_id: str,
        device_code: str,
        ip: str,
        client_secret: str | None = None,
        issuer_name: str | None = None,
        resource: str | None = None,
    ) -> PollOutcome:
        """:meth:`poll`, with its one statement awaited where the storage offers that
        (:class:`~deviceflow.server.storage.base.AsyncPoll`: batched with the polls of the
        moment; PostgreSQL's does not block the event loop). Same answers, same errors; the
        storage's own errors (a failed batch) propagate.
        """
        with self._counting:
            client, poll = self._pending_poll(tenant, client_id, device_code, client_secret)
            if self._pacer.pending(poll):  # most polls of a fleet: no statement (_pacing)
                self._polled("pending")
                return AUTHORIZATION_PENDING
            paced = self._paced_slow_down(poll, ip)
            mark = terms = None
            if paced is None:
                mark = self._pacer.mark(poll.now)  # before the statement: see Pacer.accepted
                batched = self._batched
                if batched is None:
                    terms = self._storage.record_poll(poll)
                else:
                    terms = await batched.arecord_poll(poll)
            asked = _Redemption(issuer_name, resource)
            return self._settled(paced, terms, mark, tenant, client, poll, ip, asked)

    def poll_from_memory(
        self, *, tenant: Tenant, client_id: str, device_code: str, ip: str
    ) -> AuthorizationPending | SlowDown | None:
        """:meth:`apoll`'s answer to a public client's poll when memory gives it (pending, or
        ``slow_down``), counted as :meth:`apoll` counts it; else None, and nothing was counted
        or changed (``server.poll_lane`` then sends the request the usual way)."""
        try:
            _client, poll = self._pending_poll(tenant, client_id, device_code, None)
        except GrantError:
            return None
        if self._pacer.pending(poll):
            self._polled("pending")
            return AUTHORIZATION_PENDING
        paced = self._paced_slow_down(poll, ip)
        if paced is not None:
            self._polled("slow_down")
        return paced

    def _settled(
        self,
        paced: SlowDown | None,
        terms: PollTerms | None,
        mark: int | None,
        tenant: Tenant,
        client: Client,
        poll: PendingPoll,
        ip: str,
        asked: _Redemption,
    ) -> PollOutcome:
        """A poll's answer once its one statement ran (or the pacing answered it), counted:
        the table's ``slow_down``; pending when storage accepted the poll (its ``terms``; the
        change log's ``mark`` from before the statement); else the full path."""
        if paced is not None:
            outcome: PollOutcome = paced
        elif terms is not None:
            self._pacer.accepted(poll, terms, mark)
            outcome = AUTHORIZATION_PENDING
        else:
            outcome = self._answer(tenant, client, poll, ip, asked)
        if outcome is AUTHORIZATION_PENDING:
            self._polled("pending")
        else:
            self._polled("slow_down" if isinstance(outcome, SlowDown) else "issued")
        return outcome

    def decided(self, device_hash: str) -> None:
        """The grant of ``device_hash`` was approved, denied or ended on this instance: its next
        poll, early or not, goes to storage and hears the outcome (another instance's decision
        is heard at the flow's next on-time poll: :mod:`._pacing`)."""
        self._pacer.forget(device_hash)

    async def aclose(self) -> None:
        """Release what the awaited polls hold on this event loop (the app's lifespan ends
        with it); the next :meth:`apoll` takes what it needs again."""
        if self._batched is not None:
            await self._batched.aclose()

    def _pending_poll(
        self, tenant: Tenant, client_id: str, device_code: str, secret: str | None
    ) -> tuple[Client, PendingPoll]:
        """Check the client; the poll as storage's one statement takes it."""
        client = self._s.poll_client(tenant, client_id, secret)
        if not tenant.device_flow:  # a flow begun before the switch (the policy only refuses)
            device_policy(tenant, client).check_enabled(tenant)
        leeway = self._settings().rate_limits.poll_leeway if tenant.enforces_slow_down else None
        return client, PendingPoll(
            self._clock(),
            self._hasher().digest("device", device_code),
            client.client_id,
            tenant.id,
            leeway,
        )

    def _answer(
        self, tenant: Tenant, client: Client, poll: PendingPoll, ip: str, asked: _Redemption
    ) -> PollOutcome:
        """The full path, for a poll the one statement did not accept: read the row, decide."""
        now, device_hash, client_id, _tenant_id, leeway = poll
        grant = self._storage.find_grant(device_hash=device_hash)
        if grant is None or grant.tenant_id != tenant.id or grant.client_id != client_id:
            raise self._unknown_device_code(ip)
        if grant.status == "consumed":
            raise self._replayed(grant, ip)
        if grant.status == "denied":
            raise GrantError("access_denied", "the user denied the request", reason="denied")
        if now >= grant.expires_at:
            raise GrantError("expired_token", "the device code has expired", reason="expired")
        last = grant.last_poll_at
        if leeway is not None and not polled_on_time(now, last, grant.interval, leeway):
            return self._slow_down(grant, now, ip)
        if grant.status == "pending":
            if self._storage.update_grant(
                device_hash, {"last_poll_at": last}, {"last_poll_at": now}
            ):
                self._pacer.accepted(poll, PollTerms(grant.expires_at, grant.interval), None)
            return AUTHORIZATION_PENDING
        return self._redeem(tenant, client, grant, now, ip, asked)

    def _slow_down(self, grant: DeviceGrant, now: float, ip: str) -> SlowDown:
        # §3.5: on slow_down "the interval MUST be increased by 5 seconds for this and all
        # subsequent requests" (up to the ceiling: _pacing.MAX_POLL_INTERVAL).
        device_hash, interval = grant.device_hash, self._pacer.raised(grant.interval)
        if interval == grant.interval or self._storage.update_grant(
            device_hash, {"interval": grant.interval}, {"interval": interval}
        ):
            self._pacer.remember(grant, interval, now)
            self._slowed(device_hash, grant.interval, interval, ip)
        else:  # another instance moved the row on: judge by storage next time
            self._pacer.forget(device_hash)
        return SlowDown(interval=interval)

    def _paced_slow_down(self, poll: PendingPoll, ip: str) -> SlowDown | None:
        """``slow_down`` for a poll early by this instance's table, else None (:mod:`._pacing`)."""
        raised = self._pacer.slow_down(poll)
        if raised is None:
            return None
        self._slowed(poll.device_hash, *raised, ip)
        return SlowDown(interval=raised[1])

    def _slowed(self, device_hash: str, before: int, interval: int, ip: str) -> None:
        """Audit a ``slow_down`` that raised the interval (one at the ceiling is not news)."""
        if interval == before:
            return
        audit = self._s.audit
        audit.event("slow_down", device_code=fingerprint(device_hash), ip=ip, interval=interval)
        if self._s.limiter.record(_SLOW_DOWN_BURST, device_hash):  # a storm: one event
            audit.event("slow_down_burst", device_code=fingerprint(device_hash), ip=ip)

    def _redeem(
        self,
        tenant: Tenant,
        client: Client,
        grant: DeviceGrant,
        now: float,
        ip: str,
        asked: _Redemption,
    ) -> IssuedTokens:
        device_hash = grant.device_hash
        if self._s.accounts.client(client.client_id) is None:  # the poll's may be seconds old
            raise GrantError("invalid_client", "unknown client", reason="unknown_client")
        scopes = grant.scopes  # a wrong resource is refused before the code is spent
        if asked.resource:
            known = known_scopes(self._s.settings().clients)
            scopes = for_resource(scopes, asked.resource, known=known)
        family = self._s.tokens.new_id()
        won = self._storage.update_grant(
            device_hash,
            {"status": "approved"},
            {"status": "consumed", "family_id": family, "last_poll_at": now},
        )
        if not won:
            raise self._replayed(self._storage.find_grant(device_hash=device_hash) or grant, ip)
        user = self._s.accounts.user_by_id(grant.user_id or "")
        if user is None or not user.enabled:  # checklist 19: re-check at redemption
            raise GrantError(
                "invalid_grant", "the user account is disabled", reason="user_disabled"
            )
        tokens = self._s.tokens.issue(
            tenant=tenant,
            client=client,
            user=user,
            scopes=scopes,
            family_id=family,
            grant_type="device_code",
            issuer_name=asked.issuer_name,
            granted=grant.scopes,
            device=(ip, grant.device_user_agent),
        )
        self._s.audit.event(
            "tokens_redeemed", device_code=fingerprint(device_hash), family=family, ip=ip
        )
        return tokens

    def _unknown_device_code(self, ip: str) -> GrantError:
        limits = self._s.settings().rate_limits
        bucket = Bucket(
            "device_code_ip", limits.unknown_device_code_polls, limits.unknown_device_code_window
        )
        # Counted first (atomic across instances); per address, an IPv6 client's /64.
        attempt = self._s.limiter.admit(bucket, address_key(ip))
        if attempt.refused:
            return GrantError(
                "rate_limited",
                "too many unknown device codes",
                status=429,
                retry_after=attempt.retry_after,
            )
        if attempt.is_last:
            self._s.audit.event("unknown_device_code_lockout", ip=ip)
        return GrantError("invalid_grant", "unknown device code", reason="unknown_device_code")

    def _replayed(self, grant: DeviceGrant, ip: str) -> GrantError:
        # Checklist 8: a second redemption revokes what the first one got.
        if grant.family_id:
            self._s.tokens.revoke_family(grant.family_id)
        self._s.audit.event(
            "redemption_replayed", device_code=fingerprint(grant.device_hash), ip=ip
        )
        return GrantError(
            "invalid_grant", "the device code was already redeemed", reason="code_redeemed"
        )
