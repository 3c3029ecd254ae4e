"""The settings' tables: one frozen dataclass per TOML table, each key documented where defined.

Each field's default and meaning sit next to its definition (``_doc``); ``docs/configuration.md``
is generated from these definitions by ``scripts/config-docs``. What depends on a tenant's
dialect (``slow_down``, ``verification_uri_complete``, the user-code format) defaults to what the
dialect says (:mod:`deviceflow.server.dialects`); no dialect is named here.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from deviceflow.server.dialects import dialect_named

Rotation = Literal["strict", "reusable"]
ROTATIONS: tuple[Rotation, ...] = typing.get_args(Rotation)
"""The refresh rotations by their own names (a dialect's name also picks one)."""
Proximity = Literal["off", "warn", "block"]

DEFAULT_DIALECT = "rfc8628"
"""The standard: what a tenant speaks unless its ``dialect`` says otherwise."""
USER_CODE_TABLE = "settings"
"""The ``user_code_style`` value meaning the ``[user_code]`` table (other values name dialects)."""
DEFAULT_CHARSET = "BCDFGHJKLMNPQRSTVWXZ"
MIN_USER_CODE_BITS = 30
_NAMESPACE = uuid.UUID("6f1c2d3e-8a4b-5c6d-9e0f-a1b2c3d4e5f6")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _doc(
    text: str, default: Any = dataclasses.MISSING, *, toml: bool = True, secret: bool = False
) -> Any:
    """A dataclass field carrying its documentation (and whether a config file may set it);
    a ``secret`` one stays out of the repr."""
    meta = {"doc": text, "toml": toml}
    if isinstance(default, (tuple, str, int, float, bool, type(None), Path)):
        return field(default=default, metadata=meta, repr=not secret)
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default_factory=default, metadata=meta)


class SettingsError(ValueError):
    """The configuration is invalid; the message starts with the bad key (``clients[0].scopes``)."""


@dataclass(frozen=True)
class UserCodeFormat:
    """Shape of user codes: `X` in the mask is a character from the charset."""

    charset: str = _doc("Alphabet (RFC 8628 §6.1: base-20, no vowels).", DEFAULT_CHARSET)
    mask: str = _doc("Display mask; other characters are separators.", "XXXX-XXXX")

    @property
    def length(self) -> int:
        """Number of code characters."""
        return self.mask.count("X")

    @property
    def bits(self) -> float:
        """Entropy of one code."""
        return self.length * math.log2(len(self.charset))


@dataclass(frozen=True)
class Tenant:
    """A directory (Microsoft calls it a tenant): the first path segment of every endpoint."""

    id: str = _doc("Tenant name used in URLs (`/{id}/oauth2/v2.0/token`). Required.")
    name: str = _doc("Display name shown on the verification pages.", "")
    dialect: str = _doc(
        "How the tenant's endpoints spell requests and answers: a dialect's name (see"
        " Dialects below).",
        DEFAULT_DIALECT,
    )
    aliases: tuple[str, ...] = _doc("Other names resolving to this tenant (GUID, domain).", ())
    guid: str = _doc("Tenant GUID (`tid` claim); derived from `id` when not given.", "")
    domain: str | None = _doc("Verified domain, e.g. `contoso.example`; also an alias.", None)
    slow_down: bool | None = _doc(
        "Enforce RFC 8628 `slow_down`; default: by dialect (see Dialects below).", None
    )
    device_code_refresh: bool = _doc(
        "Allow refreshing sessions that began with the device code flow (protocol tracking);"
        " `false` answers `invalid_grant` (each dialect adds its own code).",
        True,
    )
    verification_uri_complete: bool | None = _doc(
        "Send `verification_uri_complete`; default: by dialect (see Dialects below).", None
    )
    user_code_style: str | None = _doc(
        "`settings` (the `[user_code]` table) or a dialect's name (that dialect's own user"
        " codes); default: the tenant's dialect's (see Dialects below).",
        None,
    )
    # Anti-phishing policy (docs/security.md); a client's settings can only make it stricter.
    device_flow: bool = _doc(
        "Allow the device code flow in this tenant (Microsoft's 'authentication flows'"
        " condition); `false` refuses new flows: `unauthorized_client`, or the dialect's"
        " spelling of a policy block.",
        True,
    )
    proximity: Proximity = _doc(
        "Require the approving browser to share the device's network (same IP, or one of"
        " `trusted_networks`): `off`, `warn` (a strong warning on the confirm page) or `block`.",
        "off",
    )
    trusted_networks: tuple[str, ...] = _doc(
        "Subnets (CIDR) that count as one network for `proximity`, e.g. an office range.", ()
    )
    device_access_token_lifetime: int | None = _doc(
        "Cap on the lifetime of access tokens from device-flow sessions, seconds.", None
    )
    device_scopes: tuple[str, ...] | None = _doc(
        "Scopes device-flow sessions may hold (others: `invalid_scope`); default: any.", None
    )
    # Emulated sign-in conditions (server/grant/_conditions.py): each refuses refreshes.
    sign_in_frequency: int | None = _doc(
        "Sign-in frequency (Conditional Access), seconds: refreshing a session whose sign-in is"
        " older answers `invalid_grant` (Microsoft dialect: Entra error 70043).",
        None,
    )
    mfa_required_from: float | None = _doc(
        "Epoch seconds from which multi-factor authentication is required: sessions that"
        " signed in earlier cannot refresh (`invalid_grant`; Microsoft dialect: Entra error 50076);"
        " later sign-ins count as having done it.",
        None,
    )

    @property
    def enforces_slow_down(self) -> bool:
        """Whether early polls get ``slow_down`` (explicit setting, else by dialect)."""
        if self.slow_down is None:
            return dialect_named(self.dialect).slow_down
        return self.slow_down

    @property
    def sends_verification_uri_complete(self) -> bool:
        """Whether device authorization responses carry ``verification_uri_complete``."""
        if self.verification_uri_complete is None:
            return dialect_named(self.dialect).verification_uri_complete
        return self.verification_uri_complete

    def user_code_format(self, default: UserCodeFormat) -> UserCodeFormat:
        """The user code format of this tenant (``default`` is the ``[user_code]`` table)."""
        style = self.user_code_style or self.dialect
        if style == USER_CODE_TABLE:
            return default
        return dialect_named(style).user_code or default

    def names(self) -> tuple[str, ...]:
        """Every name this tenant answers to, lower-cased."""
        found = [self.id, self.guid, *self.aliases]
        if self.domain:
            found.append(self.domain)
        return tuple(dict.fromkeys(n.lower() for n in found if n))


@dataclass(frozen=True)
class Client:
    """A registered application."""

    client_id: str = _doc("The application (client) id. Required.")
    name: str = _doc("Application name shown on the confirm page.", "")
    public: bool = _doc(
        "'Allow public client flows': the client only names itself (`client_id`). `false`: a"
        " confidential client, which authenticates with its secret (`secret_hash`) by HTTP Basic"
        " (`client_secret_basic`) or in the body (`client_secret_post`) on every request.",
        True,
    )
    secret_hash: str = field(
        default="",
        repr=False,
        metadata={
            "doc": "argon2 hash of a confidential client's secret (`$argon2id$...`); required"
            " when `public = false`, refused otherwise. `python -m deviceflow.server.client_secret`"
            " prints a new secret and its hash.",
            "toml": True,
        },
    )
    scopes: tuple[str, ...] = _doc(
        "Scopes the client may request (allow-list).",
        ("openid", "profile", "email", "offline_access", "User.Read"),
    )
    tenants: tuple[str, ...] | None = _doc("Restrict the client to these tenant ids.", None)
    logo_uri: str | None = _doc("Logo shown on the confirm page.", None)
    client_uri: str | None = _doc("Home page shown on the confirm page.", None)
    device_flow_enabled: bool = _doc("Whether the client may use the device grant.", True)
    proximity: Proximity | None = _doc(
        "Proximity rule for this client (`off`, `warn`, `block`); the stricter of the client's"
        " and the tenant's applies.",
        None,
    )
    device_access_token_lifetime: int | None = _doc(
        "Cap on access-token lifetime for this client's device-flow sessions (the smaller of"
        " client and tenant caps applies), seconds.",
        None,
    )
    device_scopes: tuple[str, ...] | None = _doc(
        "Scopes this client's device-flow sessions may hold (intersected with the tenant's).",
        None,
    )
    consent_required: bool = _doc(
        "Emulate missing consent: every token request of this client answers `invalid_grant`"
        " (Microsoft dialect: Entra error 65001).",
        False,
    )
    post_logout_redirect_uris: tuple[str, ...] = _doc(
        "Where the logout endpoint (`end_session_endpoint`) may send the browser back, exactly"
        " as the client passes `post_logout_redirect_uri` with its `client_id`; any other"
        " value gets the signed-out page.",
        (),
    )


@dataclass(frozen=True)
class UserRecord:
    """A user who can sign in on the verification page (and is Graph's ``/me``)."""

    username: str = _doc("Sign-in name, unique per tenant. Required.")
    password_hash: str = field(
        default="",
        repr=False,
        metadata={
            "doc": "argon2 hash of the password; or give `password` in plain text and it is"
            " hashed at load. One of the two is required.",
            "toml": True,
        },
    )
    display_name: str = _doc("Full name (`name` claim, Graph `displayName`).", "")
    given_name: str | None = _doc("Graph `givenName`.", None)
    surname: str | None = _doc("Graph `surname`.", None)
    mail: str | None = _doc("Graph `mail`; also `preferred_username` when set.", None)
    tenant: str = _doc("Tenant id the user belongs to; default: the first tenant.", "")
    id: str = _doc("Object id (`oid` claim, Graph `id`); derived when not given.", "")
    job_title: str | None = _doc("Graph `jobTitle`.", None)
    mobile_phone: str | None = _doc("Graph `mobilePhone`.", None)
    office_location: str | None = _doc("Graph `officeLocation`.", None)
    preferred_language: str | None = _doc("Graph `preferredLanguage`.", None)
    business_phones: tuple[str, ...] = _doc("Graph `businessPhones`.", ())
    enabled: bool = _doc("Disabled users cannot sign in, and get no tokens.", True)
    sessions_valid_from: float | None = _doc(
        "Epoch seconds before which this user's sign-ins are revoked (Graph's"
        " `signInSessionsValidFromDateTime`: a password change or an administrator's"
        " revocation); their refreshes answer `invalid_grant` (Microsoft dialect: Entra error"
        " 50173).",
        None,
    )

    @property
    def preferred_username(self) -> str:
        """The UPN-like name put in tokens: ``mail`` when set, else ``username``."""
        return self.mail or self.username


@dataclass(frozen=True)
class Lifetimes:
    """How long things live, in seconds."""

    device_code: int = _doc("Device and user code lifetime (`expires_in`).", 900)
    access_token: int = _doc("Access token lifetime.", 3600)
    id_token: int = _doc("ID token lifetime.", 3600)
    refresh_token: int = _doc("Refresh token lifetime, renewed on each use.", 90 * 86400)
    refresh_token_absolute: int = _doc(
        "Absolute cap on a refresh-token family, however often it is renewed.", 180 * 86400
    )
    reauth: int = _doc(
        "How long after signing in on the verification pages a browser may approve devices"
        " without the password; later approvals ask for it again.",
        300,
    )
    expired_retention: int = _doc(
        "How long expired device codes, refresh tokens and rate-limit counters stay stored"
        " before the purge (`purge_interval`) deletes them; meanwhile a late poll still gets"
        " `expired_token` and a replayed device code still revokes its tokens.",
        900,
    )


@dataclass(frozen=True)
class RateLimits:
    """Guessing protection (RFC 8628 §5.1, §5.2; passwords) and poll timing."""

    user_code_failures: int = _doc("Wrong user codes allowed per IP and per session.", 5)
    user_code_window: int = _doc("Window for the above, seconds.", 900)
    unknown_device_code_polls: int = _doc("Polls with unknown device codes allowed per IP.", 20)
    unknown_device_code_window: int = _doc("Window for the above, seconds.", 900)
    device_authorizations_per_ip: int = _doc(
        "Device authorization requests (new flows) allowed per client IP per window; room for"
        " a fleet behind one NAT starting flows together (then 429 with `Retry-After`).",
        120,
    )
    device_authorizations_per_client: int = _doc(
        "Device authorization requests allowed per client (`client_id`) per window, from all"
        " addresses together: bounds the grants a flood can store.",
        1200,
    )
    device_authorization_window: int = _doc("Window for the two above, seconds.", 60)
    poll_leeway: float = _doc(
        "Tolerance for network jitter when judging a poll early (`slow_down`), seconds.", 1.0
    )
    guessing_alarm_failures: int = _doc(
        "Wrong user codes from all IPs together that raise one `guessing_alarm` audit event.", 50
    )
    guessing_alarm_window: int = _doc("Window for the above, seconds.", 300)
    sign_in_failures: int = _doc(
        "Wrong passwords allowed per account (a user, on every password form and from every"
        " address) in `sign_in_window`; then its sign-in pauses until the window ends, even"
        " for the right password. Also the wrong secrets allowed per confidential client.",
        5,
    )
    sign_in_address_failures: int = _doc(
        "Wrong passwords allowed per client address (an IPv6 client's /64), whatever accounts"
        " they name, in `sign_in_window`; and, counted apart, wrong client secrets per address.",
        20,
    )
    sign_in_window: int = _doc("Window for the two above, seconds.", 900)
    sign_in_checks: int = _doc(
        "Password checks that run at once, per server process (each is argon2id with 64 MiB"
        " of memory, in a worker thread); further sign-ins wait their turn.",
        2,
    )
    sign_in_queue: int = _doc(
        "Sign-ins that may wait for a password check, per server process; more get a plain"
        " 503 'try again shortly' page, so a sign-in flood costs neither memory nor polls.",
        16,
    )


def derived_id(*parts: str) -> str:
    """A stable GUID derived from names (tenant GUIDs, user object ids)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def is_guid(text: str) -> bool:
    """Whether ``text`` looks like a GUID."""
    return bool(_GUID.match(text))
