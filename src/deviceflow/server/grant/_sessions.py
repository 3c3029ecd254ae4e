"""A person's device sessions: what the "your devices" page and ``deviceflow admin sessions`` show
and revoke (RFC 10027's "Recover" step, for the person themself).

Theory of operation. A device session is a token *family* (:mod:`._tokens`): one device-code
sign-in and every refresh token rotated from it. Nothing new is stored for it: its refresh
records (their client, when each was issued, and since schema 3 the address and ``User-Agent``
of the token request that got it) say what the device is, where it asked from and when it was
last used; the family's sign-in time is the one :mod:`._conditions` records at redemption.
Revoking a session is revoking its family (``TokenService.revoke_family``): the device's next
refresh answers ``invalid_grant`` (reason ``refresh_revoked``; Entra error 50173 in the
Microsoft dialect), its access tokens stop passing :meth:`TokenService.verify`, and the other
sessions of the person go on. A session without a refresh token (no ``offline_access``) lives
only as long as its access token and is not listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from deviceflow.server.grant._cae import sessions_revoked
from deviceflow.server.grant._conditions import signed_in_at
from deviceflow.server.grant._services import Services
from deviceflow.server.storage.base import RefreshRecord

__all__ = ["DeviceSession", "DeviceSessions"]


@dataclass(frozen=True)
class DeviceSession:
    """One device signed in as a person (a token family), as people and admins see it."""

    id: str
    """The family id (the access tokens' ``sid``): what a revocation names."""
    client_id: str
    application: str
    """The client's name (its id when it has none, or is gone)."""
    tenant_id: str
    ip: str | None
    """Where the device's latest token request came from (``None``: before schema 3)."""
    user_agent: str | None
    """The device software of that request, as it said."""
    signed_in_at: float
    last_used_at: float
    """When the device last got tokens (a redemption or a refresh)."""


class DeviceSessions:
    """Lists and revokes a user's device sessions (``GrantEngine.sessions``)."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def of_user(self, user_id: str) -> list[DeviceSession]:
        """The live sessions of ``user_id`` (a refresh token unexpired, the family not
        revoked), the most recently used first."""
        store = self._s.accounts.store
        if store is None:
            return []
        families: dict[str, list[RefreshRecord]] = {}
        for record in store.refresh_of_user(user_id, now=self._s.clock()):
            families.setdefault(record.family_id, []).append(record)
        found = []
        for family, records in families.items():
            latest = records[-1]  # oldest first
            if self._s.tokens.is_family_revoked(family):
                continue
            if sessions_revoked(self._s.storage, latest) or latest.status == "revoked":
                continue
            client = self._s.accounts.client(latest.client_id)
            first = signed_in_at(self._s.storage, family)
            found.append(
                DeviceSession(
                    id=family,
                    client_id=latest.client_id,
                    application=(client.name if client else "") or latest.client_id,
                    tenant_id=latest.tenant_id,
                    ip=latest.ip,
                    user_agent=latest.user_agent,
                    signed_in_at=records[0].issued_at if first is None else first,
                    last_used_at=latest.issued_at,
                )
            )
        return sorted(found, key=lambda s: s.last_used_at, reverse=True)

    def revoke(self, user_id: str, session_id: str, *, by: str) -> bool:
        """Revoke the session ``session_id`` of ``user_id``; ``False`` when the user has no
        such live session (another user's is never touched). ``by`` says who asked (``user``:
        the person on the page; ``admin``), for the audit log."""
        session = next((s for s in self.of_user(user_id) if s.id == session_id), None)
        if session is None:
            return False
        self._s.tokens.revoke_family(session_id)
        self._s.audit.event(
            "device_session_revoked",
            user_id=user_id,
            session=session_id,
            client_id=session.client_id,
            tenant=session.tenant_id,
            by=by,
        )
        return True
