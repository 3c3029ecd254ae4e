"""Emulated sign-in conditions: the ways a provider refuses a session it once accepted.

Theory of operation. Entra keeps a signed-in device working for months until one of its
conditions says otherwise; each answers ``invalid_grant`` with its own Entra error number, and a
device owner has to know which one to act on (``deviceflow doctor`` explains them). The
emulator turns each on by configuration, so clients can be tested against them for real:

==========================================  ==================  =========================
setting                                     reason              Entra error number
==========================================  ==================  =========================
tenant ``sign_in_frequency`` (seconds)      sign_in_frequency   70043
tenant ``mfa_required_from`` (epoch)        mfa_required        50076
user ``sessions_valid_from`` (epoch)        sessions_revoked    50173
client ``consent_required``                 consent_required    65001
==========================================  ==================  =========================

Time-based conditions judge the session by the time its user signed in (the device-code
redemption that started the family, recorded here), not by the last refresh: a session that began
before ``mfa_required_from`` needs a new sign-in (one that "does" the MFA the emulator cannot ask
for), while sign-ins after it pass. Consent is judged at every token request, redemption included.
Refresh-token idle expiry (``[lifetimes] refresh_token``, 700082) and the device-flow block
(``device_flow``/``device_code_refresh``, 53003) live with the rules they belong to.
"""

from __future__ import annotations

from collections.abc import Callable

from deviceflow.server.grant._errors import GrantError
from deviceflow.server.grant._types import GrantType
from deviceflow.server.settings import Client, Settings, Tenant, UserRecord
from deviceflow.server.storage.base import Storage

_SIGN_INS = "family_sign_ins"


def signed_in_at(storage: Storage, family_id: str) -> float | None:
    """When the sign-in ``family_id`` began (its device-code redemption), if recorded."""
    stored = storage.get_value(_SIGN_INS, family_id)
    return None if stored is None else float(stored)


class Conditions:
    """Checks the emulated conditions before tokens are issued (see the module docstring)."""

    def __init__(self, *, storage: Storage, settings: Callable[[], Settings]) -> None:
        self._storage = storage
        self._settings = settings

    def admit(
        self,
        *,
        tenant: Tenant,
        client: Client,
        user: UserRecord,
        family_id: str,
        grant_type: GrantType,
        now: float,
        absolute_expires_at: float | None,
    ) -> None:
        """Refuse a token request a condition forbids; remember when a family signed in.

        Raises:
            GrantError: ``invalid_grant`` with reason ``consent_required``,
                ``sessions_revoked``, ``mfa_required`` or ``sign_in_frequency``.
        """
        if client.consent_required:
            raise GrantError(
                "invalid_grant",
                f"the user or an administrator has not consented to the application"
                f" {client.client_id!r}",
                reason="consent_required",
            )
        if grant_type == "device_code":
            self._storage.put_value(_SIGN_INS, family_id, repr(now))
            return
        signed_in = self._signed_in_at(family_id, absolute_expires_at, now)
        if user.sessions_valid_from is not None and signed_in < user.sessions_valid_from:
            raise GrantError(
                "invalid_grant",
                "the user's sessions were revoked after this sign-in (password change or an"
                " administrator's revocation)",
                reason="sessions_revoked",
            )
        if tenant.mfa_required_from is not None and signed_in < tenant.mfa_required_from:
            raise GrantError(
                "invalid_grant",
                "multi-factor authentication is now required; this sign-in did not include it",
                reason="mfa_required",
            )
        frequency = tenant.sign_in_frequency
        if frequency is not None and now - signed_in > frequency:
            raise GrantError(
                "invalid_grant",
                f"the sign-in is older than the tenant's sign-in frequency ({frequency} s)",
                reason="sign_in_frequency",
            )

    def _signed_in_at(self, family_id: str, absolute_expires_at: float | None, now: float) -> float:
        stored = signed_in_at(self._storage, family_id)
        if stored is not None:
            return stored
        # A family from before sign-ins were recorded: its absolute cap was set at sign-in.
        if absolute_expires_at is not None:
            return absolute_expires_at - self._settings().lifetimes.refresh_token_absolute
        return now
