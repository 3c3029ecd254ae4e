"""Actionable hints for Microsoft's ``AADSTS`` error numbers (microsoft-identity.md §5, §7).

Kept apart from ``_errors`` so that a board loads the table only when a Microsoft error arrives.
"""

AADSTS_HINTS = {
    7000218: "enable 'Allow public client flows' on the app registration "
    "(Authentication > Advanced settings), or use a public client id",
    700025: "this is a public client: do not send a client secret or assertion",
    53003: "blocked by your organisation's Conditional Access policy; "
    "ask an administrator whether the device code flow is allowed",
    50076: "multi-factor authentication is required; sign in again and complete it",
    50079: "multi-factor authentication enrolment is required; sign in again and complete it",
    65001: "the user or an administrator has not consented to this application",
    70043: "the sign-in session is too old for your organisation's policy; sign in again",
    700082: "the refresh token expired through inactivity; sign in again",
    50173: "the grant was revoked (for example after a password change); sign in again",
    54005: "this device code was already redeemed; start a new sign-in",
    70020: "the device code expired; start a new sign-in",
    70019: "the device code expired; start a new sign-in",
    50059: "no tenant information: use a tenant-specific or 'organizations' authority",
}
