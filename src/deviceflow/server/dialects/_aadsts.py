"""Microsoft's error vocabulary: which ``error`` and AADSTS number an engine error becomes.

The grant engine raises RFC errors (``access_denied``, ``expired_token`` ...) with a neutral
reason (``denied``, ``expired`` ...); Entra spells some of them differently (reference §5, §8).
The tables below map the reason (else, for errors without one, the RFC ``error``) to Microsoft's
``error``, number and wording. Numbers and texts marked "unverified" in the microsoft-identity
reference are our most plausible choice and are listed in ``docs/microsoft-emulation.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from deviceflow.server.grant import Reason


class MicrosoftError(NamedTuple):
    """Microsoft's spelling of one error."""

    error: str
    code: int
    message: str


_INVALID_SCOPE = MicrosoftError(
    "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid."
)
_CREDENTIAL_REQUIRED = MicrosoftError(
    "invalid_client",
    7000218,
    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
)
_REVOKED = MicrosoftError(
    "invalid_grant",
    50173,
    "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
)

# The engine's reason -> Microsoft's spelling; "{detail}" is the engine's text.
_BY_REASON: dict[Reason, MicrosoftError] = {
    "pending": MicrosoftError(
        "authorization_pending",
        70016,
        "The provided request has not yet been authorized by the user. The user must input"
        " their code.",
    ),
    "denied": MicrosoftError(  # number unverified (reference §5)
        "authorization_declined", 65004, "The user declined to authorize the device."
    ),
    "unknown_device_code": MicrosoftError(  # number unverified
        "bad_verification_code",
        70000,
        "The provided value for the input parameter 'device_code' is not valid.",
    ),
    "expired": MicrosoftError(
        "expired_token",
        70020,
        "The provided value for the input parameter 'device_code' is not valid. This device"
        " code has expired.",
    ),
    "code_redeemed": MicrosoftError(
        "invalid_grant",
        54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or"
        " use an existing refresh token.",
    ),
    "unknown_client": MicrosoftError(
        "unauthorized_client",
        700016,
        "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
        " This can happen if the application has not been installed by the administrator of"
        " the tenant or consented to by any user in the tenant.",
    ),
    "public_flows_disabled": _CREDENTIAL_REQUIRED,
    "client_authentication_required": _CREDENTIAL_REQUIRED,
    "public_client_credential": MicrosoftError(
        "invalid_client",
        700025,
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
    ),
    "client_secret_invalid": MicrosoftError(
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the"
        " client secret value, not the client secret ID, for a secret added to app"
        " '{client_id}'.",
    ),
    "client_secret_throttled": MicrosoftError(  # emulator choice: Entra's throttling number
        "invalid_client",
        90055,
        "There are too many failed client authentications for app '{client_id}'. Retry after"
        " the number of seconds in the Retry-After header.",
    ),
    "scope_not_allowed": _INVALID_SCOPE,
    "unknown_resource": MicrosoftError(
        "invalid_resource",
        500011,
        "The resource principal named {resource} was not found in the tenant named {tenant}."
        " This can happen if the application has not been installed by the administrator of"
        " the tenant or consented to by any user in the tenant. You might have sent your"
        " authentication request to the wrong tenant.",
    ),
    "resource_not_granted": MicrosoftError(
        "invalid_grant",
        65001,
        "The user or administrator has not consented to use the application with ID"
        " '{client_id}'. Send an interactive authorization request for this user and resource.",
    ),
    "refresh_unknown": MicrosoftError(
        "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
    ),
    "refresh_revoked": _REVOKED,
    "refresh_reused": _REVOKED,
    "refresh_expired": MicrosoftError(
        "invalid_grant", 700082, "The refresh token has expired due to inactivity."
    ),
    "device_flow_blocked": MicrosoftError(
        "invalid_grant",
        53003,
        "Access has been blocked by Conditional Access policies. The access policy does not"
        " allow token issuance.",
    ),
    "user_disabled": MicrosoftError("invalid_grant", 50057, "The user account is disabled."),
    # Emulated sign-in conditions (grant/_conditions.py); wording from Entra's error reference.
    "sign_in_frequency": MicrosoftError(
        "invalid_grant",
        70043,
        "The refresh token has expired or is invalid due to sign-in frequency checks by"
        " conditional access.",
    ),
    "sessions_revoked": MicrosoftError(
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed."
        " The user might have changed or reset their password.",
    ),
    "mfa_required": MicrosoftError(
        "invalid_grant",
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a new"
        " location, you must use multi-factor authentication to access the resource.",
    ),
    "consent_required": MicrosoftError(
        "invalid_grant",
        65001,
        "The user or administrator has not consented to use the application with ID"
        " '{client_id}'. Send an interactive authorization request for this user and resource.",
    ),
    "device_authorization_limited": MicrosoftError(  # Entra's throttling number (unverified)
        "temporarily_unavailable",
        90055,
        "There are too many incoming requests. Retry after the number of seconds in the"
        " Retry-After header.",
    ),
}

# Errors raised without a reason (request errors, and the engine's plain RFC ones), by ``error``.
_BY_ERROR: dict[str, MicrosoftError] = {
    "unauthorized_client": MicrosoftError(
        "unauthorized_client",
        7000112,
        "Application '{client_id}' is disabled for the device code flow.",
    ),
    "invalid_scope": _INVALID_SCOPE,
    "slow_down": MicrosoftError(  # only with the per-tenant switch; see docs
        "slow_down",
        50196,
        "The server terminated an operation because it encountered a client request loop.",
    ),
    "unsupported_grant_type": MicrosoftError(
        "unsupported_grant_type", 70003, "The app requested an unsupported grant type '{detail}'."
    ),
    "invalid_tenant": MicrosoftError(
        "invalid_request",
        90002,
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are"
        " signing into the correct cloud.",
    ),
    "rate_limited": MicrosoftError(
        "temporarily_unavailable",
        50196,
        "The server terminated an operation because it encountered a client request loop.",
    ),
}

# Errors the engine never raises, for the failures test control emulates (docs/testing.md).
_EMULATED = (
    MicrosoftError(
        "invalid_grant",
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a new"
        " location, you must use multi-factor authentication to access"
        " '00000003-0000-0000-c000-000000000000'.",
    ),
    MicrosoftError(
        "invalid_grant",
        50079,
        "Due to a configuration change made by your administrator, or because you moved to a new"
        " location, you must enroll in multi-factor authentication to access"
        " '00000003-0000-0000-c000-000000000000'.",
    ),
    MicrosoftError(
        "invalid_grant",
        65001,
        "The user or administrator has not consented to use the application with ID"
        " '{client_id}'. Send an interactive authorization request for this user and resource.",
    ),
    MicrosoftError(
        "invalid_grant",
        70043,
        "The refresh token has expired or is invalid due to sign-in frequency checks by"
        " conditional access.",
    ),
)

_DEFAULT_CODES = {"invalid_request": 900144, "invalid_grant": 70000, "invalid_client": 7000218}


def translate(
    error: str,
    description: str,
    reason: Reason | None,
    *,
    client_id: str,
    tenant: str,
    resource: str = "",
) -> MicrosoftError:
    """Microsoft's ``error``, AADSTS number and message for an engine or request error."""
    known = (_BY_REASON.get(reason) if reason else None) or _BY_ERROR.get(error)
    detail = description.rstrip(".")
    if known is not None:
        message = known.message.format(
            client_id=client_id, tenant=tenant, detail=detail, resource=resource[:256]
        )
        if known.error == "invalid_scope" and detail:
            message = f"{message} {detail[:1].upper()}{detail[1:]}."
        return MicrosoftError(known.error, known.code, message)
    code = _DEFAULT_CODES.get(error, 90000)
    text = f"{detail[:1].upper()}{detail[1:]}." if detail else error
    return MicrosoftError(error, code, text)


def by_code(code: int, *, client_id: str = "...", tenant: str = "...") -> MicrosoftError | None:
    """Microsoft's spelling of AADSTS ``code``, if this server emits it (or emulates it)."""
    for spelled in (*_BY_REASON.values(), *_BY_ERROR.values(), *_EMULATED):
        if spelled.code == code:
            message = spelled.message.format(
                client_id=client_id, tenant=tenant, detail="", resource="..."
            )
            return MicrosoftError(spelled.error, code, message.replace(" ''", ""))
    return None


def describe_code(code: int) -> tuple[str, str] | None:
    """``(error, message)`` for an AADSTS number this server emits, or None."""
    spelled = by_code(code)
    return None if spelled is None else (spelled.error, spelled.message)
