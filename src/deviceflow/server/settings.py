"""Server settings: frozen values built from a TOML file and the environment.

Each setting's default and meaning sit next to its definition (``_doc``); ``docs/configuration.md``
is generated from these definitions by ``scripts/config-docs`` (``--check`` runs in the tests).
Nothing in the server reads ``os.environ``: :meth:`Settings.from_env` takes the environment as a
mapping, and is the only place that does.

TOML shape (every key optional unless marked required)::

    public_url = "https://login.example"
    [lifetimes]    device_code = 900 ...
    [user_code]    charset = "BCDFGHJKLMNPQRSTVWXZ"  mask = "XXXX-XXXX"
    [rate_limits]  user_code_failures = 5 ...
    [[tenants]]    id (required), name, dialect, aliases, guid, domain, slow_down,
                   verification_uri_complete, user_code_style, device_flow, proximity,
                   trusted_networks, device_access_token_lifetime, device_scopes
    [[clients]]    client_id (required), name, public, scopes, tenants, logo_uri, client_uri,
                   device_flow_enabled, proximity, device_access_token_lifetime, device_scopes
    [[users]]      username (required), password or password_hash (required), tenant ...
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import math
import re
import sys
import types
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from deviceflow.server.security import hash_password

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

Dialect = Literal["microsoft", "rfc8628"]
Rotation = Literal["strict", "microsoft"]
UserCodeStyle = Literal["settings", "microsoft"]
Proximity = Literal["off", "warn", "block"]

DEFAULT_CHARSET = "BCDFGHJKLMNPQRSTVWXZ"
MIN_USER_CODE_BITS = 30
_T = typing.TypeVar("_T")
_NAMESPACE = uuid.UUID("6f1c2d3e-8a4b-5c6d-9e0f-a1b2c3d4e5f6")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _doc(text: str, default: Any = dataclasses.MISSING, *, toml: bool = True) -> Any:
    """A dataclass field carrying its documentation (and whether a config file may set it)."""
    meta = {"doc": text, "toml": toml}
    if isinstance(default, (tuple, str, int, float, bool, type(None), Path)):
        return field(default=default, metadata=meta)
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default_factory=default, metadata=meta)


class SettingsError(ValueError):
    """The configuration is invalid; the message starts with the bad key (``clients[0].scopes``)."""


@dataclass(frozen=True)
class Tenant:
    """A directory (Microsoft calls it a tenant): the first path segment of every endpoint."""

    id: str = _doc("Tenant name used in URLs (`/{id}/oauth2/v2.0/token`). Required.")
    name: str = _doc("Display name shown on the verification pages.", "")
    dialect: Dialect = _doc(
        "`microsoft` (Microsoft identity platform bodies) or `rfc8628` (the RFC exactly).",
        "rfc8628",
    )
    aliases: tuple[str, ...] = _doc("Other names resolving to this tenant (GUID, domain).", ())
    guid: str = _doc("Tenant GUID (`tid` claim); derived from `id` when not given.", "")
    domain: str | None = _doc("Verified domain, e.g. `contoso.example`; also an alias.", None)
    slow_down: bool | None = _doc(
        "Enforce RFC 8628 `slow_down`; default: on for `rfc8628`, off for `microsoft`.", None
    )
    device_code_refresh: bool = _doc(
        "Allow refreshing sessions that began with the device code flow (protocol tracking);"
        " `false` answers `invalid_grant` (AADSTS53003).",
        True,
    )
    verification_uri_complete: bool | None = _doc(
        "Send `verification_uri_complete`; default: on for `rfc8628`, off for `microsoft`"
        " (Entra never sends it).",
        None,
    )
    user_code_style: UserCodeStyle | None = _doc(
        "`settings` (the `[user_code]` table) or `microsoft` (9 characters from A-Z and 2-9"
        " without I and O, no separator, like `BPPVYQZMA`); default: by dialect.",
        None,
    )
    # Anti-phishing policy (docs/security.md); a client's settings can only make it stricter.
    device_flow: bool = _doc(
        "Allow the device code flow in this tenant (Microsoft's 'authentication flows'"
        " condition); `false` refuses new flows: `unauthorized_client`, or `invalid_grant`"
        " AADSTS53003 in the Microsoft dialect.",
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

    @property
    def enforces_slow_down(self) -> bool:
        """Whether early polls get ``slow_down`` (explicit setting, else by dialect)."""
        return self.dialect == "rfc8628" if self.slow_down is None else self.slow_down

    @property
    def sends_verification_uri_complete(self) -> bool:
        """Whether device authorization responses carry ``verification_uri_complete``."""
        if self.verification_uri_complete is None:
            return self.dialect == "rfc8628"
        return self.verification_uri_complete

    def user_code_format(self, default: UserCodeFormat) -> UserCodeFormat:
        """The user code format of this tenant (``default`` is the ``[user_code]`` table)."""
        style = self.user_code_style or ("microsoft" if self.dialect == "microsoft" else "settings")
        return MICROSOFT_USER_CODE if style == "microsoft" else default

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
    public: bool = _doc("'Allow public client flows': required for the device flow.", True)
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


MICROSOFT_USER_CODE = UserCodeFormat(charset="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", mask="XXXXXXXXX")
"""Entra's style (observed codes: ``BPPVYQZMA``, ``CWE5QHLNM``): 9 characters, 45 bits."""


@dataclass(frozen=True)
class RateLimits:
    """Guessing protection (RFC 8628 §5.1, §5.2) and poll timing."""

    user_code_failures: int = _doc("Wrong user codes allowed per IP and per session.", 5)
    user_code_window: int = _doc("Window for the above, seconds.", 900)
    unknown_device_code_polls: int = _doc("Polls with unknown device codes allowed per IP.", 20)
    unknown_device_code_window: int = _doc("Window for the above, seconds.", 900)
    poll_leeway: float = _doc(
        "Tolerance for network jitter when judging a poll early (`slow_down`), seconds.", 1.0
    )
    guessing_alarm_failures: int = _doc(
        "Wrong user codes from all IPs together that raise one `guessing_alarm` audit event.", 50
    )
    guessing_alarm_window: int = _doc("Window for the above, seconds.", 300)


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know; frozen once built."""

    tenants: tuple[Tenant, ...] = _doc("`[[tenants]]`: at least one.", toml=False)
    clients: tuple[Client, ...] = _doc("`[[clients]]`.", toml=False)
    users: tuple[UserRecord, ...] = _doc("`[[users]]`.", toml=False)
    public_url: str | None = _doc("Issuer base URL; default: the address the server binds.", None)
    interval: int = _doc("Polling interval advertised to devices, seconds.", 5)
    refresh_rotation: Rotation = _doc(
        "`strict`: rotate refresh tokens, reuse revokes the family; `microsoft`: the previous"
        " token stays valid.",
        "strict",
    )
    lifetimes: Lifetimes = _doc("`[lifetimes]` table.", Lifetimes, toml=False)
    user_code: UserCodeFormat = _doc("`[user_code]` table.", UserCodeFormat, toml=False)
    rate_limits: RateLimits = _doc("`[rate_limits]` table.", RateLimits, toml=False)
    data_dir: Path | None = _doc("Folder for the SQLite database (env DEVICEFLOW_DATA_DIR).", None)
    db_url: str | None = _doc(
        "`sqlite:///PATH` or `memory:`; default: SQLite in `data_dir`, else memory.", None
    )
    secret_key: str | None = field(
        default=None,
        repr=False,
        metadata={
            "doc": "HMAC key for code digests (env DEVICEFLOW_SECRET_KEY); default: a key"
            " generated once and kept in storage.",
            "toml": True,
        },
    )
    trusted_proxies: tuple[str, ...] = _doc(
        "Reverse proxies (IP addresses or CIDR subnets) whose `X-Forwarded-For` and"
        " `X-Forwarded-Proto` headers are believed; default: none, the headers are ignored.",
        (),
    )
    is_development: bool = _doc("Set for the built-in development setup.", False, toml=False)
    dev_credentials: tuple[tuple[str, str], ...] = field(
        default=(), repr=False, metadata={"doc": "Demo (username, password) pairs.", "toml": False}
    )

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_toml(cls, path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
        """Read a TOML configuration file, then apply environment overrides.

        Raises:
            SettingsError: the file is missing, not TOML, or a value is invalid.
        """
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise SettingsError(f"config: cannot read {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config: {path} is not valid TOML: {exc}") from exc
        return cls.from_mapping(data, environ or {})

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from an already-parsed TOML document.

        Raises:
            SettingsError: a value is invalid; the message names the key.
        """
        return _apply_env(_parse_settings(data), environ or {})

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """``DEVICEFLOW_CONFIG`` names a TOML file; without it the development setup is used.

        Raises:
            SettingsError: the configuration file or an environment value is invalid.
        """
        if environ.get("DEVICEFLOW_CONFIG"):
            return cls.from_toml(environ["DEVICEFLOW_CONFIG"], environ)
        data_dir = environ.get("DEVICEFLOW_DATA_DIR")
        return _apply_env(cls.development(Path(data_dir) if data_dir else None), environ)

    @classmethod
    def development(cls, data_dir: Path | None = None) -> Settings:
        """The no-config setup: one demo tenant, a demo public client, two demo users."""
        return _development(data_dir)

    # -- queries ----------------------------------------------------------------------------

    @functools.cached_property
    def _tenants_by_name(self) -> dict[str, Tenant]:
        """Every name of every tenant, lower-cased; the first tenant to claim a name keeps it."""
        found: dict[str, Tenant] = {}
        for tenant in self.tenants:
            for name in tenant.names():
                found.setdefault(name, tenant)
        return found

    @functools.cached_property
    def _clients_by_id(self) -> dict[str, Client]:
        found: dict[str, Client] = {}
        for client in self.clients:
            found.setdefault(client.client_id, client)
        return found

    def resolve_tenant(self, name: str) -> Tenant | None:
        """The tenant answering to ``name`` (id, alias, GUID or domain; case-insensitive)."""
        # A dict built once (Settings is frozen): every token poll resolves its tenant.
        return self._tenants_by_name.get(name.lower())

    def tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant with exactly this id."""
        return next((t for t in self.tenants if t.id == tenant_id), None)

    def client(self, client_id: str) -> Client | None:
        """The registered client with this id."""
        return self._clients_by_id.get(client_id)

    def user(self, tenant: Tenant, username: str) -> UserRecord | None:
        """The user of ``tenant`` with this username (case-insensitive)."""
        wanted = username.strip().lower()
        for user in self.users:
            if user.tenant == tenant.id and wanted in (
                user.username.lower(),
                (user.mail or "").lower(),
            ):
                return user
        return None

    def user_by_id(self, user_id: str) -> UserRecord | None:
        """The user with this object id."""
        return next((u for u in self.users if u.id == user_id), None)

    def user_code_formats(self) -> tuple[UserCodeFormat, ...]:
        """Every user code format some tenant issues (to judge an entered code)."""
        found = [t.user_code_format(self.user_code) for t in self.tenants]
        return tuple(dict.fromkeys(found)) or (self.user_code,)

    @property
    def database_url(self) -> str:
        """Where storage lives: ``db_url``, else SQLite in ``data_dir``, else ``memory:``."""
        if self.db_url:
            return self.db_url
        if self.data_dir is not None:
            return f"sqlite:///{self.data_dir / 'deviceflow.sqlite3'}"
        return "memory:"


def derived_id(*parts: str) -> str:
    """A stable GUID derived from names (tenant GUIDs, user object ids)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def is_guid(text: str) -> bool:
    """Whether ``text`` looks like a GUID."""
    return bool(_GUID.match(text))


def _apply_env(settings: Settings, environ: Mapping[str, str]) -> Settings:
    changes: dict[str, Any] = {}
    if environ.get("DEVICEFLOW_PUBLIC_URL"):
        changes["public_url"] = environ["DEVICEFLOW_PUBLIC_URL"].rstrip("/")
    if environ.get("DEVICEFLOW_DB_URL"):
        changes["db_url"] = environ["DEVICEFLOW_DB_URL"]
    if environ.get("DEVICEFLOW_DATA_DIR"):
        changes["data_dir"] = Path(environ["DEVICEFLOW_DATA_DIR"])
    if environ.get("DEVICEFLOW_SECRET_KEY"):
        changes["secret_key"] = environ["DEVICEFLOW_SECRET_KEY"]
    return dataclasses.replace(settings, **changes) if changes else settings


DEMO_TENANT_GUID = "8c4f1d2e-5b6a-4c7d-9e8f-0a1b2c3d4e5f"
DEMO_CLIENT_ID = "5e1c0f7a-2b4d-4e8f-9a6b-3c2d1e0f9a8b"
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
DEMO_USERS = (
    ("adele", "adele-password", "Adele", "Vance"),
    ("megan", "megan-password", "Megan", "Bowen"),
)


def _development(data_dir: Path | None) -> Settings:
    tenant = Tenant(
        id="demo",
        name="deviceflow demo",
        dialect="microsoft",
        guid=DEMO_TENANT_GUID,
        domain="demo.example",
        aliases=(DEMO_TENANT_GUID, "demo.example", "common", "organizations"),
        # The demo's QR code carries the code; Entra itself never sends the complete URI.
        verification_uri_complete=True,
    )
    scopes = ("openid", "profile", "email", "offline_access", "User.Read", "Presence.Read")
    clients = (
        Client(client_id=DEMO_CLIENT_ID, name="deviceflow demo", scopes=scopes),
        Client(client_id=AZURE_CLI_CLIENT_ID, name="Azure CLI (emulated)", scopes=scopes),
    )
    users = tuple(
        UserRecord(
            username=username,
            password_hash=hash_password(password),
            display_name=f"{given} {surname}",
            given_name=given,
            surname=surname,
            mail=f"{username}@demo.example",
            tenant=tenant.id,
            id=derived_id("user", tenant.id, username),
            preferred_language="en-US",
        )
        for username, password, given, surname in DEMO_USERS
    )
    return Settings(
        tenants=(tenant,),
        clients=clients,
        users=users,
        data_dir=data_dir,
        is_development=True,
        dev_credentials=tuple((u, p) for u, p, _, _ in DEMO_USERS),
    )


# -- parsing --------------------------------------------------------------------------------


def _parse_settings(data: Mapping[str, Any]) -> Settings:
    top = dict(data)
    tables = {name: top.pop(name, {}) for name in ("lifetimes", "user_code", "rate_limits")}
    raw = {name: _array(top.pop(name, []), name) for name in ("tenants", "clients", "users")}
    tenants = tuple(_tenant(t, f"tenants[{i}]") for i, t in enumerate(raw["tenants"]))
    if not tenants:
        raise SettingsError("tenants: at least one [[tenants]] table is required")
    clients = tuple(_build(Client, c, f"clients[{i}]") for i, c in enumerate(raw["clients"]))
    users = tuple(_user(u, f"users[{i}]", tenants[0].id) for i, u in enumerate(raw["users"]))
    settings = _build(
        Settings,
        top,
        "",
        tenants=tenants,
        clients=clients,
        users=users,
        lifetimes=_build(Lifetimes, tables["lifetimes"], "lifetimes"),
        user_code=_build(UserCodeFormat, tables["user_code"], "user_code"),
        rate_limits=_build(RateLimits, tables["rate_limits"], "rate_limits"),
    )
    _validate(settings)
    return settings


def _array(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SettingsError(f"{where}: expected an array of tables ([[{where}]])")
    return value


def _tenant(table: Any, where: str) -> Tenant:
    tenant = _build(Tenant, table, where)
    guid = tenant.guid or next((a for a in tenant.aliases if is_guid(a)), "")
    if guid and not is_guid(guid):
        raise SettingsError(f"{where}.guid: {guid!r} is not a GUID")
    return dataclasses.replace(tenant, guid=(guid or derived_id("tenant", tenant.id)).lower())


def _user(table: Any, where: str, default_tenant: str) -> UserRecord:
    if not isinstance(table, Mapping):
        raise SettingsError(f"{where}: expected a table")
    table = dict(table)
    password = table.pop("password", None)
    if password is not None:
        if "password_hash" in table:
            raise SettingsError(f"{where}.password: give either password or password_hash")
        if not isinstance(password, str) or not password:
            raise SettingsError(f"{where}.password: expected a non-empty string")
        table["password_hash"] = hash_password(password)
    elif not table.get("password_hash"):
        raise SettingsError(f"{where}.password: required (or password_hash)")
    elif not str(table["password_hash"]).startswith("$argon2"):
        raise SettingsError(f"{where}.password_hash: expected an argon2 hash ($argon2id$...)")
    user = _build(UserRecord, table, where)
    tenant = user.tenant or default_tenant
    user_id = user.id or derived_id("user", tenant, user.username.lower())
    if not is_guid(user_id):
        raise SettingsError(f"{where}.id: {user_id!r} is not a GUID")
    return dataclasses.replace(
        user, tenant=tenant, id=user_id.lower(), display_name=user.display_name or user.username
    )


def _build(cls: type[_T], table: Any, path: str, **given: Any) -> _T:
    """Instantiate dataclass ``cls`` from a TOML table, type-checking each key."""
    if not isinstance(table, Mapping):
        raise SettingsError(f"{path}: expected a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = dict(given)
    for key, value in table.items():
        where = f"{path}.{key}" if path else key
        spec = fields.get(key)
        if spec is None or not spec.metadata.get("toml", True):
            raise SettingsError(f"{where}: unknown key")
        kwargs[key] = _coerce(value, hints[key], where)
    for spec in fields.values():
        missing = (
            spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        )
        if missing and spec.name not in kwargs:
            raise SettingsError(f"{path}.{spec.name}: required")
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        (hint,) = [a for a in args if a is not type(None)]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise SettingsError(f"{where}: expected one of {choices}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{where}: expected a list of strings")
        return tuple(value)
    if hint is bool and not isinstance(value, bool):
        raise SettingsError(f"{where}: expected true or false")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SettingsError(f"{where}: expected an integer")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"{where}: expected a number")
        return float(value)
    if hint in (str, Path) and not isinstance(value, str):
        raise SettingsError(f"{where}: expected a string")
    return Path(value) if hint is Path else value


def _validate(settings: Settings) -> None:
    owner: dict[str, str] = {}
    for i, tenant in enumerate(settings.tenants):
        for name in tenant.names():
            if name in owner:
                raise SettingsError(
                    f"tenants[{i}]: name {name!r} already names tenant {owner[name]!r}"
                )
            owner[name] = tenant.id
    ids = {t.id for t in settings.tenants}
    seen: set[str] = set()
    for i, client in enumerate(settings.clients):
        if client.client_id in seen:
            raise SettingsError(f"clients[{i}].client_id: duplicate {client.client_id!r}")
        seen.add(client.client_id)
        for name in client.tenants or ():
            if name not in ids:
                raise SettingsError(f"clients[{i}].tenants: unknown tenant {name!r}")
    seen = set()
    for i, user in enumerate(settings.users):
        if user.tenant not in ids:
            raise SettingsError(f"users[{i}].tenant: unknown tenant {user.tenant!r}")
        key = f"{user.tenant}/{user.username.lower()}"
        if key in seen or user.id in seen:
            raise SettingsError(f"users[{i}].username: duplicate user {user.username!r}")
        seen.update((key, user.id))
    for proxy in settings.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise SettingsError(
                f"trusted_proxies: {proxy!r} is not an IP address or subnet"
            ) from exc
    _validate_numbers(settings)
    _validate_policy(settings)
    _validate_user_code(settings.user_code)
    if settings.public_url and not settings.public_url.startswith(("http://", "https://")):
        raise SettingsError("public_url: expected an http:// or https:// URL")


def _validate_numbers(settings: Settings) -> None:
    checks: list[tuple[str, float]] = [("interval", settings.interval)]
    for table, name in ((settings.lifetimes, "lifetimes"), (settings.rate_limits, "rate_limits")):
        checks += [(f"{name}.{f.name}", getattr(table, f.name)) for f in dataclasses.fields(table)]
    for where, number in checks:
        if number <= 0 and where != "rate_limits.poll_leeway" or number < 0:
            raise SettingsError(f"{where}: must be positive")


def _validate_policy(settings: Settings) -> None:
    owners: list[tuple[str, Tenant | Client]] = [
        *((f"tenants[{i}]", t) for i, t in enumerate(settings.tenants)),
        *((f"clients[{i}]", c) for i, c in enumerate(settings.clients)),
    ]
    for where, owner in owners:
        lifetime = owner.device_access_token_lifetime
        if lifetime is not None and lifetime <= 0:
            raise SettingsError(f"{where}.device_access_token_lifetime: must be positive")
    for i, tenant in enumerate(settings.tenants):
        for network in tenant.trusted_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise SettingsError(
                    f"tenants[{i}].trusted_networks: {network!r} is not a subnet (CIDR)"
                ) from exc


def _validate_user_code(fmt: UserCodeFormat) -> None:
    charset = fmt.charset
    if len(set(charset)) != len(charset) or len(charset) < 2:
        raise SettingsError("user_code.charset: expected at least 2 distinct characters")
    if not all(c.isascii() and (c.isupper() or c.isdigit()) for c in charset):
        raise SettingsError("user_code.charset: expected upper-case letters and digits only")
    if any(c.isalnum() for c in fmt.mask.replace("X", "")):
        raise SettingsError("user_code.mask: separators must not be letters or digits")
    if fmt.bits < MIN_USER_CODE_BITS:
        raise SettingsError(
            f"user_code: {fmt.bits:.1f} bits of entropy; at least {MIN_USER_CODE_BITS} are required"
        )


__all__ = [
    "Client",
    "MICROSOFT_USER_CODE",
    "Dialect",
    "Proximity",
    "Lifetimes",
    "RateLimits",
    "Rotation",
    "Settings",
    "SettingsError",
    "Tenant",
    "UserCodeFormat",
    "UserCodeStyle",
    "UserRecord",
    "derived_id",
    "is_guid",
]
