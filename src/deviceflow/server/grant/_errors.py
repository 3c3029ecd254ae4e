"""Errors the grant engine raises; the web layer renders them in the tenant's dialect."""

from __future__ import annotations

from typing import Literal

VerificationKind = Literal["unknown", "expired", "used", "rate_limited", "invalid", "network"]

Reason = Literal[
    "unknown_client",  # no such client, or not one of this tenant
    "public_flows_disabled",  # a confidential client presented no credential
    "public_client_credential",  # a public client presented a secret or an assertion
    "client_secret_invalid",  # a confidential client presented a wrong secret
    "client_secret_throttled",  # too many wrong secrets for the client or from the address
    "client_authentication_required",  # a public client (or none) where only confidential may
    "pending",  # the user has not finished yet (the answer most polls get)
    "denied",  # the user declined
    "expired",  # the device code's lifetime is over
    "unknown_device_code",
    "code_redeemed",  # the device code was already exchanged for tokens
    "user_disabled",  # the account was disabled after it approved
    "device_flow_blocked",  # the tenant's policy blocks the device code flow or its sessions
    "scope_not_allowed",  # the client (or the device-flow policy) may not have this scope
    "unknown_resource",  # a resource (API) no client here has scopes of
    "resource_not_granted",  # a known resource the client or the sign-in holds no scope of
    "refresh_unknown",
    "refresh_revoked",  # revoked, or its sign-in was
    "refresh_reused",  # strict rotation: a refresh token used twice
    "refresh_expired",
    # Emulated sign-in conditions (``_conditions``): each refuses a session it once accepted.
    "sign_in_frequency",  # the sign-in is older than the tenant's sign-in frequency
    "sessions_revoked",  # the user's sessions were revoked after this sign-in
    "mfa_required",  # multi-factor authentication is now required
    "consent_required",  # nobody has consented to the application
    "device_authorization_limited",  # too many new flows from this address or for this client
]
"""Why the engine refused, in no dialect's words: each dialect maps a reason to its own spelling
(the Microsoft dialect to its error number and wording; the RFC dialect needs none)."""


class GrantError(Exception):
    """An OAuth error the token, device-authorization or revocation endpoint must expose.

    ``error`` is the RFC 6749 / RFC 8628 code (``authorization_pending``, ``slow_down``,
    ``access_denied``, ``expired_token``, ``invalid_grant`` ...); ``reason`` says which of the
    situations sharing that code this is (:data:`Reason`), for dialects that tell them apart.
    """

    def __init__(
        self,
        error: str,
        description: str = "",
        *,
        status: int = 400,
        reason: Reason | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status
        self.reason: Reason | None = reason
        self.retry_after = retry_after


class VerificationError(Exception):
    """The verification page cannot go on with the entered user code.

    ``kind`` selects the page: ``unknown`` (no such code), ``expired``, ``used`` (already
    approved or denied), ``rate_limited`` (too many wrong codes; ``retry_after`` seconds) or
    ``invalid`` (empty, malformed, or a user of another tenant) or ``network`` (the proximity
    policy blocks approvals from outside the device's network).
    """

    def __init__(self, kind: VerificationKind, *, retry_after: int | None = None) -> None:
        super().__init__(kind)
        self.kind: VerificationKind = kind
        self.retry_after = retry_after
