"""User-code entry and approval (RFC 8628 §3.3, §5.1): what the verification pages ask for.

Wrong user codes are counted per client address (an IPv6 client's /64) and per browser session
(and all together, for an alarm); past the limit even a right code is refused for a while. A
code is looked up only after normalisation, so ``wdjb mjht`` and ``WDJB-MJHT`` share one
counter. Approving or denying is a compare-and-set on the grant row (once, by one user); the
proximity policy may warn about or block an approver outside the device's network.
"""

from __future__ import annotations

from collections.abc import Callable

from deviceflow.server.grant import _codes
from deviceflow.server.grant._errors import VerificationError
from deviceflow.server.grant._policy import device_policy
from deviceflow.server.grant._services import Services
from deviceflow.server.grant._types import PendingRequest
from deviceflow.server.security import Bucket, address_key, fingerprint
from deviceflow.server.settings import UserRecord
from deviceflow.server.storage.base import DeviceGrant

__all__ = ["Verification"]


class Verification:
    """Looks up entered user codes and records decisions (``GrantEngine.verification``)."""

    def __init__(self, services: Services, *, decided: Callable[[str], None]) -> None:
        self._s = services
        self._decided = decided  # told each decided grant's device_hash (the poll pacing)

    def lookup_user_code(self, *, user_code: str, ip: str, session: str) -> PendingRequest:
        """The live request behind an entered user code (any case, any separators).

        Raises:
            VerificationError: ``invalid`` (empty), ``unknown`` (counted against the IP and
                the session), ``expired``, ``used``, ``network`` (the proximity policy blocks
                ``ip``), or ``rate_limited`` (with ``retry_after``; even for a correct code once
                the limit is reached).
        """
        grant = self._grant_for_code(user_code, ip, session)
        settings = self._s.settings()
        client = self._s.accounts.client(grant.client_id)
        tenant = settings.tenant(grant.tenant_id)
        if client is None or tenant is None:  # the configuration changed under the request
            raise VerificationError("unknown")
        warn = self._proximity(grant, ip)
        return PendingRequest(
            user_code=_codes.display_user_code(
                _codes.normalise_user_code(user_code),
                tenant.user_code_format(settings.user_code),
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
        won = self._s.storage.update_grant(
            grant.device_hash,
            {"status": "pending"},
            {"status": status, "user_id": user.id, "decided_at": self._s.clock()},
        )
        if not won:
            raise VerificationError("used")
        self._decided(grant.device_hash)
        self._s.audit.event(
            f"grant_{status}",
            user_code=fingerprint(grant.user_hash),
            user_id=user.id,
            ip=ip,
            user_agent=(user_agent or "")[:200],
        )

    def _grant_for_code(self, user_code: str, ip: str, session: str) -> DeviceGrant:
        now = self._s.clock()
        settings = self._s.settings()
        code = _codes.normalise_user_code(user_code)
        if not code:
            raise VerificationError("invalid")
        hasher = self._s.hasher()
        limits, limiter, audit = settings.rate_limits, self._s.limiter, self._s.audit
        failures, window = limits.user_code_failures, limits.user_code_window
        # Counters are chosen after normalisation, so "wdjb mjht" and "WDJB-MJHT" share them.
        # Each entry is counted first and judged by its own number (atomic across instances);
        # an entry that finds a code is taken back: only wrong codes use up the limit.
        attempts = [
            limiter.admit(Bucket("user_code_ip", failures, window), address_key(ip)),
            limiter.admit(
                Bucket("user_code_session", failures, window), hasher.digest("session", session)
            ),
        ]
        refused = [a.retry_after for a in attempts if a.retry_after is not None]
        if refused:
            for attempt in attempts:
                if not attempt.refused:
                    limiter.refund(attempt)
            audit.event("user_code_attempt", result="rate_limited", ip=ip)
            raise VerificationError("rate_limited", retry_after=max(refused))
        user_hash = hasher.digest("user", code)
        grant = None
        if any(_codes.is_well_formed(code, fmt) for fmt in settings.user_code_formats()):
            grant = self._s.storage.find_grant(user_hash=user_hash)
        if grant is None:
            # A success never resets these counters (checklist 3).
            audit.event(
                "user_code_attempt", user_code=fingerprint(user_hash), result="unknown", ip=ip
            )
            if any(attempt.is_last for attempt in attempts):
                audit.event("user_code_lockout", ip=ip, session=fingerprint(attempts[1].key))
            self._count_global_failure(ip)
            raise VerificationError("unknown")
        for attempt in attempts:
            limiter.refund(attempt)
        result = (
            "used" if grant.status != "pending" else "expired" if now >= grant.expires_at else "ok"
        )
        audit.event("user_code_attempt", user_code=fingerprint(user_hash), result=result, ip=ip)
        if result != "ok":
            raise VerificationError(result)  # type: ignore[arg-type]
        return grant

    def _count_global_failure(self, ip: str) -> None:
        # One alarm per window when wrong codes from all addresses together pass the threshold:
        # a distributed guesser stays under every per-IP limit but not under this one. It only
        # alerts; blocking everyone would hand attackers a denial of service.
        limits = self._s.settings().rate_limits
        bucket = Bucket(
            "user_code_global", limits.guessing_alarm_failures, limits.guessing_alarm_window
        )
        if self._s.limiter.record(bucket, "all"):
            self._s.audit.event(
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
        settings = self._s.settings()
        tenant = settings.tenant(grant.tenant_id)
        client = self._s.accounts.client(grant.client_id)
        if tenant is None or client is None:
            return False
        verdict = device_policy(tenant, client).judge(grant.device_ip, ip)
        if verdict == "ok":
            return False
        self._s.audit.event(
            "proximity_mismatch",
            user_code=fingerprint(grant.user_hash),
            device_ip=grant.device_ip,
            ip=ip,
            action=verdict,
        )
        if verdict == "block":
            raise VerificationError("network")
        return True
