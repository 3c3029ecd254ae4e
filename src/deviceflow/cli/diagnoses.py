"""What an error from the identity provider means for a device owner, and what to do next.

One table: each row names an Entra ``AADSTS`` number or an RFC 6749 / RFC 8628 ``error`` code,
says what happened in plain words, the next step on the device, the steps for an administrator
where the fix is in the tenant (Entra admin center), and the exit code ``deviceflow doctor``
returns for it (the codes of :mod:`deviceflow.cli.errors`). :func:`explain` looks an error up:
an AADSTS number first (Entra's numbers say more than its ``error`` names), then the ``error``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from deviceflow.cli.errors import (
    EXIT_DENIED,
    EXIT_EXPIRED,
    EXIT_NETWORK,
    EXIT_SERVER,
    EXIT_SIGN_IN,
    EXIT_USAGE,
)

__all__ = ["DIAGNOSES", "Diagnosis", "explain"]

_APP = "Entra admin center > Identity > Applications > App registrations > (the app)"
_CA = "Entra admin center > Protection > Conditional Access > Policies"
_RELINK = "sign in again: deviceflow login (a running deviceflow agent does it by itself)"


class Diagnosis(NamedTuple):
    """One row of the table."""

    key: str
    """``AADSTS70043`` or an ``error`` code such as ``invalid_grant``."""
    title: str
    cause: str
    fix: str
    admin: str | None
    exit_code: int

    def as_dict(self) -> dict[str, object]:
        """The JSON form (``doctor --json``)."""
        return self._asdict()


def _rows() -> Iterable[Diagnosis]:
    yield from (
        Diagnosis(
            "AADSTS700082",
            "refresh token expired through inactivity",
            "the device did not refresh its tokens for longer than the refresh token's idle"
            " lifetime (90 days on Entra), so the sign-in lapsed",
            f"{_RELINK}; then keep a deviceflow agent running so the tokens never sit idle",
            None,
            EXIT_SIGN_IN,
        ),
        Diagnosis(
            "AADSTS70043",
            "sign-in frequency reached",
            "a Conditional Access sign-in frequency policy requires a new sign-in after a set"
            " time, whatever the refreshes in between",
            _RELINK,
            f"{_CA}: the policy's Session > Sign-in frequency sets how often; exclude the device's"
            " account or app, or lengthen it, if the device must stay linked",
            EXIT_SIGN_IN,
        ),
        Diagnosis(
            "AADSTS50173",
            "sessions revoked",
            "the user's sessions were revoked after this sign-in: a password change or reset, or"
            " an administrator's 'Revoke sessions'",
            _RELINK,
            "Entra admin center > Users > (the user) > Revoke sessions revokes every device's"
            " sign-in; nothing to change unless that was unintended",
            EXIT_SIGN_IN,
        ),
        Diagnosis(
            "AADSTS50076",
            "multi-factor authentication now required",
            "a new policy (or a new location) requires multi-factor authentication, which this"
            " sign-in did not include",
            f"{_RELINK}, and complete the MFA prompt in the browser",
            f"{_CA}: Grant > Require multifactor authentication applies to this user and app",
            EXIT_SIGN_IN,
        ),
        Diagnosis(
            "AADSTS50079",
            "multi-factor authentication enrolment required",
            "the user must register a second factor before signing in",
            f"register at https://aka.ms/mfasetup, then {_RELINK}",
            None,
            EXIT_SIGN_IN,
        ),
        Diagnosis(
            "AADSTS53003",
            "blocked by Conditional Access",
            "a Conditional Access policy blocks this sign-in; since 2025 many tenants block the"
            " device code flow (or refreshes of its sessions) by default",
            "ask an administrator to allow the device code flow for this device or app",
            f"{_CA}: Conditions > Authentication flows > Device code flow; exclude the device's"
            " user or app from the blocking policy (sign-in logs name the policy)",
            EXIT_DENIED,
        ),
        Diagnosis(
            "AADSTS65001",
            "consent missing",
            "neither the user nor an administrator has consented to the permissions the app asks"
            " for (or the consent was removed)",
            "ask an administrator to grant consent, then sign in again",
            f"{_APP} > API permissions > Grant admin consent for (the tenant)",
            EXIT_DENIED,
        ),
        Diagnosis(
            "AADSTS7000218",
            "public client flows are off",
            "the app registration does not allow public client flows, which the device code flow"
            " needs (the server asks for a client secret)",
            "ask the app's owner to allow public client flows, or use a public client id",
            f"{_APP} > Authentication > Advanced settings > Allow public client flows: Yes",
            EXIT_USAGE,
        ),
        Diagnosis(
            "AADSTS700016",
            "application not found",
            "no application with this client id exists in the tenant: a typo in the client id,"
            " the wrong tenant, or an app registered elsewhere and never consented here",
            "check --client-id and --tenant (or the profile in the config file)",
            f"{_APP}: Overview shows the Application (client) ID to use",
            EXIT_USAGE,
        ),
        Diagnosis(
            "AADSTS50194",
            "single-tenant app on a multi-tenant endpoint",
            "the app is registered for one tenant only, but the device signs in through 'common'"
            " or 'organizations'",
            "use the tenant's own id or domain: --tenant contoso.onmicrosoft.com",
            f"{_APP} > Authentication > Supported account types (or keep it and fix the tenant)",
            EXIT_USAGE,
        ),
        Diagnosis(
            "AADSTS90002",
            "tenant not found",
            "no tenant answers to this name: a typo in the tenant, or the wrong cloud",
            "check --tenant (a GUID, a verified domain, or organizations) and --authority",
            None,
            EXIT_USAGE,
        ),
        Diagnosis(
            "AADSTS700025",
            "secret sent by a public client",
            "the app is a public client, so it must not send a client secret or assertion",
            "remove the secret from the device's configuration",
            None,
            EXIT_USAGE,
        ),
        Diagnosis(
            "AADSTS54005",
            "device code already used",
            "the device code was redeemed before; a second redemption is refused",
            "start a new sign-in: deviceflow login",
            None,
            EXIT_SIGN_IN,
        ),
        Diagnosis(
            "AADSTS70020",
            "code expired",
            "nobody entered and approved the code before it expired (15 minutes on Entra)",
            "start a new sign-in and approve it in time: deviceflow login",
            None,
            EXIT_EXPIRED,
        ),
        Diagnosis(
            "AADSTS65004",
            "sign-in declined",
            "the person at the browser declined the request",
            "sign in again and approve it, if the request was yours",
            None,
            EXIT_DENIED,
        ),
    )
    # RFC 6749 / RFC 8628 error codes (any provider; Entra adds the numbers above).
    yield from (
        Diagnosis(
            "invalid_grant",
            "sign-in no longer accepted",
            "the server refused the saved refresh token (expired, revoked, already used, or the"
            " session was ended)",
            _RELINK,
            None,
            EXIT_SIGN_IN,
        ),
        Diagnosis(
            "access_denied",
            "sign-in denied",
            "the person at the browser (or the server's policy) denied the request",
            "sign in again and approve it, if the request was yours; else ask the administrator",
            None,
            EXIT_DENIED,
        ),
        Diagnosis(
            "expired_token",
            "code expired",
            "nobody approved the code before it expired",
            "start a new sign-in and approve it in time: deviceflow login",
            None,
            EXIT_EXPIRED,
        ),
        Diagnosis(
            "invalid_client",
            "client not accepted",
            "the server does not know the client, or it may not use this flow without a secret",
            "check --client-id; ask the server's administrator to register a public client",
            None,
            EXIT_USAGE,
        ),
        Diagnosis(
            "unauthorized_client",
            "client may not use the device flow",
            "the client is not allowed the device authorization grant here",
            "ask the server's administrator to allow the device code grant for this client",
            None,
            EXIT_USAGE,
        ),
        Diagnosis(
            "invalid_scope",
            "scope refused",
            "the server does not grant one of the requested scopes to this client",
            "ask for fewer scopes (--scope), or have them allowed for the client",
            None,
            EXIT_USAGE,
        ),
        Diagnosis(
            "network_error",
            "server unreachable",
            "the last attempt could not reach the server",
            "check the network, proxy settings and DNS; the agent retries by itself",
            None,
            EXIT_NETWORK,
        ),
        Diagnosis(
            "protocol_error",
            "unexpected answer",
            "the server's answer was not a valid OAuth response (a proxy page, an outage)",
            "try again later; run with --debug to see the exchange",
            None,
            EXIT_SERVER,
        ),
    )


DIAGNOSES: dict[str, Diagnosis] = {row.key: row for row in _rows()}
_ALIASES = {"authorization_declined": "access_denied", "code_expired": "expired_token"}


def explain(error: str | None, codes: Iterable[int] = ()) -> Diagnosis | None:
    """The row for an error: by its first known AADSTS number, else by its ``error``."""
    for code in codes:
        row = DIAGNOSES.get(f"AADSTS{code}")
        if row is not None:
            return row
    if error is None:
        return None
    return DIAGNOSES.get(_ALIASES.get(error, error))
