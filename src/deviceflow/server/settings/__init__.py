"""Server settings: frozen values built from a TOML file and the environment.

The package: :class:`Settings` (the top-level table, its constructors and lookups) here; the
other tables in ``_schema``; TOML parsing, type checks and validation in ``_loading``; the
no-config development setup in ``_development``. ``docs/configuration.md`` is generated from the
definitions by ``scripts/config-docs`` (``--check`` runs in the tests). Nothing in the server
reads ``os.environ``: :meth:`Settings.from_env` takes the environment as a mapping, and is the
only place that does.

TOML shape (every key optional unless marked required)::

    public_url = "https://login.example"
    [lifetimes]    device_code = 900 ...
    [user_code]    charset = "BCDFGHJKLMNPQRSTVWXZ"  mask = "XXXX-XXXX"
    [rate_limits]  user_code_failures = 5 ...
    [[tenants]]    id (required), name, dialect, aliases, guid, domain, slow_down,
                   verification_uri_complete, user_code_style, device_flow, proximity,
                   trusted_networks, device_access_token_lifetime, device_scopes
    [[clients]]    client_id (required), name, public, secret_hash, scopes, tenants, logo_uri,
                   client_uri, device_flow_enabled, proximity, device_access_token_lifetime,
                   device_scopes, post_logout_redirect_uris
    [[users]]      username (required), password or password_hash (required), tenant ...
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from deviceflow.server.settings import _loading
from deviceflow.server.settings._development import (
    AZURE_CLI_CLIENT_ID,
    DEMO_CLIENT_ID,
    DEMO_TENANT_GUID,
    DEMO_USERS,
    development,
)
from deviceflow.server.settings._schema import (
    DEFAULT_CHARSET,
    DEFAULT_DIALECT,
    MIN_USER_CODE_BITS,
    USER_CODE_TABLE,
    Client,
    Lifetimes,
    Proximity,
    RateLimits,
    Rotation,
    SettingsError,
    Tenant,
    UserCodeFormat,
    UserRecord,
    _doc,
    derived_id,
    is_guid,
)

LogFormat = Literal["text", "json"]


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know; frozen once built."""

    tenants: tuple[Tenant, ...] = _doc("`[[tenants]]`: at least one.", toml=False)
    clients: tuple[Client, ...] = _doc("`[[clients]]`.", toml=False)
    users: tuple[UserRecord, ...] = _doc("`[[users]]`.", toml=False)
    public_url: str | None = _doc("Issuer base URL; default: the address the server binds.", None)
    interval: int = _doc("Polling interval advertised to devices, seconds.", 5)
    purge_interval: int = _doc(
        "Seconds between purges of expired device codes, refresh tokens and rate-limit counters"
        " (each instance purges, at startup and then at this interval; see"
        " `lifetimes.expired_retention`).",
        300,
    )
    refresh_rotation: Rotation = _doc(
        "`strict`: rotate refresh tokens, reuse revokes the family; `reusable`: the previous"
        " token stays valid; or a dialect's name: as that dialect's provider does (see"
        " Dialects below).",
        "strict",
    )
    lifetimes: Lifetimes = _doc("`[lifetimes]` table.", Lifetimes, toml=False)
    user_code: UserCodeFormat = _doc("`[user_code]` table.", UserCodeFormat, toml=False)
    rate_limits: RateLimits = _doc("`[rate_limits]` table.", RateLimits, toml=False)
    data_dir: Path | None = _doc("Folder for the SQLite database (env DEVICEFLOW_DATA_DIR).", None)
    db_url: str | None = _doc(
        "`sqlite:///PATH`, `postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (several"
        " instances on one database, docs/deployment.md; needs the `postgres` extra; the"
        " database must exist: `createdb DATABASE`) or `memory:` (env DEVICEFLOW_DB_URL;"
        " `deviceflow serve --db`); default: SQLite in `data_dir`, else memory.",
        None,
    )
    secret_key: str | None = field(
        default=None,
        repr=False,
        metadata={
            "doc": "HMAC key for code digests and the pages' session cookies (env"
            " DEVICEFLOW_SECRET_KEY): at least 32 characters, 8 of them different, else the"
            " server refuses to start; generate one with"
            ' `python -c "import secrets; print(secrets.token_urlsafe(32))"`. Default: a key'
            " generated once and kept in storage.",
            "toml": True,
        },
    )
    trusted_proxies: tuple[str, ...] = _doc(
        "Reverse proxies (IP addresses or CIDR subnets) whose `X-Forwarded-For` and"
        " `X-Forwarded-Proto` headers are believed; default: none, the headers are ignored.",
        (),
    )
    test_control: bool = _doc(
        "Serve the test-control API (`/test-control/...`, docs/testing.md): approve codes,"
        " queue token errors, throttle Graph. `deviceflow serve --test-control`; on in the"
        " development setup. Never on a server others rely on.",
        False,
    )
    test_control_token: str | None = _doc(
        "Bearer token of the test-control API (env DEVICEFLOW_TEST_CONTROL_TOKEN); default: a"
        " random one, printed at start.",
        None,
        secret=True,
    )
    metrics: bool = _doc(
        "Serve Prometheus metrics at `/metrics` (docs/operations.md; needs the `metrics` extra);"
        " `deviceflow serve --metrics`.",
        False,
    )
    metrics_address: str | None = _doc(
        "`host:port` to serve `/metrics` on instead of the main address (turns `metrics` on);"
        " `deviceflow serve --metrics-address`.",
        None,
    )
    log_format: LogFormat = _doc(
        "`text` (one line per record) or `json` (one JSON object per line: time, level, event,"
        " request id, tenant, client, outcome); `deviceflow serve --log-format`.",
        "text",
    )
    shutdown_drain: float = _doc(
        "Seconds between a stop signal and the end of listening, during which `/readyz` answers"
        " 503 (`draining`) and requests are still served, so load balancers move traffic away"
        " first (docs/operations.md, rolling restarts); `deviceflow serve --drain`.",
        0.0,
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
        return _loading.read_toml(cls, path, environ or {})

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from an already-parsed TOML document.

        Raises:
            SettingsError: a value is invalid; the message names the key.
        """
        return _loading.apply_env(_loading.parse(cls, data), environ or {})

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """``DEVICEFLOW_CONFIG`` names a TOML file; without it the development setup is used.

        Raises:
            SettingsError: the configuration file or an environment value is invalid.
        """
        if environ.get("DEVICEFLOW_CONFIG"):
            return cls.from_toml(environ["DEVICEFLOW_CONFIG"], environ)
        data_dir = environ.get("DEVICEFLOW_DATA_DIR")
        return _loading.apply_env(cls.development(Path(data_dir) if data_dir else None), environ)

    @classmethod
    def development(cls, data_dir: Path | None = None) -> Settings:
        """The no-config setup: one demo tenant, a demo public client, two demo users."""
        return development(cls, data_dir)

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


__all__ = [
    "AZURE_CLI_CLIENT_ID",
    "DEFAULT_CHARSET",
    "DEFAULT_DIALECT",
    "DEMO_CLIENT_ID",
    "DEMO_TENANT_GUID",
    "DEMO_USERS",
    "MIN_USER_CODE_BITS",
    "USER_CODE_TABLE",
    "Client",
    "Lifetimes",
    "Proximity",
    "RateLimits",
    "Rotation",
    "Settings",
    "SettingsError",
    "Tenant",
    "UserCodeFormat",
    "UserRecord",
    "derived_id",
    "is_guid",
]
