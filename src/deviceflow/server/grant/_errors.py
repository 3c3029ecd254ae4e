"""Errors the grant engine raises; the web layer renders them (RFC or Microsoft bodies)."""

from __future__ import annotations

from typing import Literal

VerificationKind = Literal["unknown", "expired", "used", "rate_limited", "invalid", "network"]


class GrantError(Exception):
    """An OAuth error the token, device-authorization or revocation endpoint must expose.

    ``error`` is the RFC 6749 / RFC 8628 code (``authorization_pending``, ``slow_down``,
    ``access_denied``, ``expired_token``, ``invalid_grant`` ...). ``aadsts`` is the Microsoft
    error number the Microsoft dialect adds to its body, when one applies.
    """

    def __init__(
        self,
        error: str,
        description: str = "",
        *,
        status: int = 400,
        aadsts: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status
        self.aadsts = aadsts
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
