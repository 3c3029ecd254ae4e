"""Settings from a TOML document and the environment: parsing, type checks, validation.

Every error is a :class:`SettingsError` whose message starts with the bad key
(``clients[0].scopes: expected a list of strings``). Values that name a dialect (a tenant's
``dialect`` and ``user_code_style``, ``refresh_rotation``) are checked against the dialect
registry, so a dialect that registers itself is configurable like the built-in ones.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from deviceflow.server.dialects import dialect_named, dialect_names
from deviceflow.server.security import hash_password, secret_key_bytes
from deviceflow.server.settings._schema import (
    MIN_USER_CODE_BITS,
    ROTATIONS,
    USER_CODE_TABLE,
    Client,
    Lifetimes,
    RateLimits,
    SettingsError,
    Tenant,
    UserCodeFormat,
    UserRecord,
    derived_id,
    is_guid,
)

if TYPE_CHECKING:
    from deviceflow.server.settings import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

_T = typing.TypeVar("_T")


def read_toml(cls: type[Settings], path: str | Path, environ: Mapping[str, str]) -> Settings:
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
    return apply_env(parse(cls, data), environ)


def apply_env(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """``settings`` with the ``DEVICEFLOW_*`` overrides found in ``environ``."""
    changes: dict[str, Any] = {}
    if environ.get("DEVICEFLOW_PUBLIC_URL"):
        changes["public_url"] = environ["DEVICEFLOW_PUBLIC_URL"].rstrip("/")
    if environ.get("DEVICEFLOW_DB_URL"):
        changes["db_url"] = environ["DEVICEFLOW_DB_URL"]
    if environ.get("DEVICEFLOW_DATA_DIR"):
        changes["data_dir"] = Path(environ["DEVICEFLOW_DATA_DIR"])
    if environ.get("DEVICEFLOW_SECRET_KEY"):
        changes["secret_key"] = _secret_key(environ["DEVICEFLOW_SECRET_KEY"])
    if environ.get("DEVICEFLOW_TEST_CONTROL_TOKEN"):
        changes["test_control_token"] = environ["DEVICEFLOW_TEST_CONTROL_TOKEN"]
    return dataclasses.replace(settings, **changes) if changes else settings


def _secret_key(key: str) -> str:
    try:
        secret_key_bytes(key)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return key


def parse(cls: type[Settings], data: Mapping[str, Any]) -> Settings:
    """Build and validate settings from a parsed TOML document.

    Raises:
        SettingsError: a value is invalid; the message names the key.
    """
    top = dict(data)
    tables = {name: top.pop(name, {}) for name in ("lifetimes", "user_code", "rate_limits")}
    raw = {name: _array(top.pop(name, []), name) for name in ("tenants", "clients", "users")}
    tenants = tuple(_tenant(t, f"tenants[{i}]") for i, t in enumerate(raw["tenants"]))
    if not tenants:
        raise SettingsError("tenants: at least one [[tenants]] table is required")
    clients = tuple(_build(Client, c, f"clients[{i}]") for i, c in enumerate(raw["clients"]))
    users = tuple(_user(u, f"users[{i}]", tenants[0].id) for i, u in enumerate(raw["users"]))
    if "refresh_rotation" in top:
        top["refresh_rotation"] = _rotation(top["refresh_rotation"])
    settings = _build(
        cls,
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


def _one_of(value: Any, choices: Iterable[Any], where: str) -> Any:
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise SettingsError(f"{where}: expected one of {listed}, got {value!r}")
    return value


def _rotation(value: Any) -> Any:
    """``strict``, ``reusable``, or a dialect's name for the rotation its provider uses."""
    names = dialect_names()
    _one_of(value, (*ROTATIONS, *names), "refresh_rotation")
    return dialect_named(value).refresh_rotation if value in names else value


def _tenant(table: Any, where: str) -> Tenant:
    tenant = _build(Tenant, table, where)
    _one_of(tenant.dialect, dialect_names(), f"{where}.dialect")
    if tenant.user_code_style is not None:
        styles = (USER_CODE_TABLE, *dialect_names())
        _one_of(tenant.user_code_style, styles, f"{where}.user_code_style")
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
        return _one_of(value, args, where)
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
        _check_secret_hash(client, f"clients[{i}].secret_hash")
        for name in client.tenants or ():
            if name not in ids:
                raise SettingsError(f"clients[{i}].tenants: unknown tenant {name!r}")
        for uri in client.post_logout_redirect_uris:
            if not uri.startswith(("https://", "http://")) or "#" in uri:
                raise SettingsError(
                    f"clients[{i}].post_logout_redirect_uris: {uri!r} is not an absolute"
                    " http(s) URL without a fragment"
                )
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
    if settings.shutdown_drain < 0:
        raise SettingsError("shutdown_drain: must not be negative")
    if settings.metrics_address is not None:
        parse_address(settings.metrics_address, "metrics_address")
    _validate_policy(settings)
    _validate_user_code(settings.user_code)
    if settings.secret_key is not None:
        _secret_key(settings.secret_key)
    if settings.public_url and not settings.public_url.startswith(("http://", "https://")):
        raise SettingsError("public_url: expected an http:// or https:// URL")


def parse_address(value: str, where: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a host and a port.

    Raises:
        SettingsError: not of that shape, or the port is not 1-65535.
    """
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{where}: expected host:port, got {value!r}")
    return host, int(port)


def _check_secret_hash(client: Client, where: str) -> None:
    helper = "make one with: python -m deviceflow.server.client_secret"
    if client.public and client.secret_hash:
        raise SettingsError(f"{where}: a public client has no secret (set public = false)")
    if not client.public and not client.secret_hash:
        raise SettingsError(f"{where}: required when public = false; {helper}")
    if client.secret_hash and not client.secret_hash.startswith("$argon2"):
        raise SettingsError(f"{where}: expected an argon2 hash ($argon2id$...); {helper}")


def _validate_numbers(settings: Settings) -> None:
    checks: list[tuple[str, float]] = [
        ("interval", settings.interval),
        ("purge_interval", settings.purge_interval),
    ]
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
        if tenant.sign_in_frequency is not None and tenant.sign_in_frequency <= 0:
            raise SettingsError(f"tenants[{i}].sign_in_frequency: must be positive")
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
