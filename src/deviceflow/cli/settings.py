"""Where the CLI's settings come from: flags, then ``DEVICEFLOW_*`` variables, then a config file.

Pure: :func:`resolve_settings` takes the parsed flags, an environment mapping, the config file's
text and the home directory, and returns a frozen :class:`CliSettings`. Nothing here reads
``os.environ`` or the disk except :func:`read_config`, which the entry point calls once.

Below the config file comes what the profile's last ``login`` used (its client id, authority or
issuer, tenant, scopes, resource and Graph URL, kept in the profile's state file by
:mod:`deviceflow.cli.state`), so ``me``, ``graph``, ``token`` and the next ``login`` need no flags;
what a person writes (flags, variables, the config file) always wins over what was remembered.

The config file is INI (``$XDG_CONFIG_HOME/deviceflow/config.ini``, ``~/.config/deviceflow/
config.ini`` or ``DEVICEFLOW_CLI_CONFIG``). Its ``[DEFAULT]`` section applies to every profile and a
section per profile keeps several apps or tenants apart::

    [DEFAULT]
    client_id = 11111111-2222-3333-4444-555555555555

    [work]
    tenant = contoso.onmicrosoft.com
    scope = User.Read Presence.Read offline_access

    [lab]
    issuer = https://id.lab.example
    client_id = iot-device
"""

from __future__ import annotations

import os

from deviceflow.cache.base import check_profile_name
from deviceflow.cache.file import default_cache_dir
from deviceflow.cli.errors import UsageError
from deviceflow.core._url import split_url  # not urllib.parse: ``deviceflow token`` imports this

# ``typing.TYPE_CHECKING`` without importing typing (``deviceflow token`` loads this module: no
# typing, dataclasses, pathlib or configparser unless a config file exists); type checkers
# treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_GRAPH_URL",
    "DEFAULT_SCOPES",
    "DEFAULT_TENANT",
    "MICROSOFT_AUTHORITY",
    "OIDC_SCOPES",
    "CliSettings",
    "config_path",
    "read_config",
    "remembered_values",
    "resolve_settings",
    "split_authority",
]

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_TENANT = "organizations"
DEFAULT_SCOPES = ("User.Read", "offline_access", "openid", "profile")
OIDC_SCOPES = ("openid", "profile", "offline_access")
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"

#: Settings that every layer may set: flag name (argparse dest) -> environment variable.
_KEYS = {
    "client_id": "DEVICEFLOW_CLIENT_ID",
    "authority": "DEVICEFLOW_AUTHORITY",
    "tenant": "DEVICEFLOW_TENANT",
    "issuer": "DEVICEFLOW_ISSUER",
    "scope": "DEVICEFLOW_SCOPE",
    "resource": "DEVICEFLOW_RESOURCE",
    "graph_url": "DEVICEFLOW_GRAPH_URL",
    "cache": "DEVICEFLOW_CACHE",
    "keyring": "DEVICEFLOW_KEYRING",
    # ``deviceflow agent``'s notifiers (one per line in the config file) and mail server.
    "notify_command": "DEVICEFLOW_NOTIFY_COMMAND",
    "notify_webhook": "DEVICEFLOW_NOTIFY_WEBHOOK",
    "notify_mqtt": "DEVICEFLOW_NOTIFY_MQTT",
    "notify_email": "DEVICEFLOW_NOTIFY_EMAIL",
    "smtp": "DEVICEFLOW_SMTP",
}
#: The keys a config file may hold (the flags' names with ``_`` for ``-``).
CONFIG_KEYS = tuple(_KEYS)
#: The settings ``login`` remembers for a profile (see the module docstring).
REMEMBERED = ("client_id", "authority", "tenant", "issuer", "scope", "resource", "graph_url")
#: The notifier kinds, in the order they are tried.
NOTIFIERS = ("command", "webhook", "mqtt", "email")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class CliSettings:
    """The resolved settings of one CLI run.

    Attributes:
        profile: which cached account to use.
        client_id: the app's client id (needed by ``login``; other commands use the cache's).
        issuer: a generic provider's issuer (discovery), or ``None`` for Microsoft-style endpoints.
        authority: Microsoft-style authority host, e.g. ``https://login.microsoftonline.com``.
        tenant: the tenant (``organizations``, ``common``, a domain or a GUID).
        scopes: the scopes to ask for.
        resource: a Microsoft v1 resource; switches to the v1 endpoints.
        graph_url: base URL of Microsoft Graph (or our emulation).
        cache_dir: where the token files live.
        keyring: keep the tokens in the OS keyring (``login --keyring``, ``DEVICEFLOW_KEYRING``,
            ``keyring = true``); the token files then hold only the rest.
        notify: ``deviceflow agent``'s notifiers, ``(kind, target)`` pairs (kinds:
            :data:`NOTIFIERS`).
        smtp: the mail server for e-mail notifiers, ``smtp://[user:password@]host[:port]`` or
            ``smtps://...`` (default ``smtp://localhost:25``).

    Immutable, compared and shown member by member (a plain class: ``deviceflow token`` does not
    import dataclasses); :meth:`replace` makes a changed copy.
    """

    __slots__ = (
        "profile",
        "client_id",
        "issuer",
        "authority",
        "tenant",
        "scopes",
        "resource",
        "graph_url",
        "cache_dir",
        "keyring",
        "notify",
        "smtp",
    )
    profile: str
    client_id: str | None
    issuer: str | None
    authority: str
    tenant: str
    scopes: tuple[str, ...]
    resource: str | None
    graph_url: str
    cache_dir: str
    keyring: bool
    notify: tuple[tuple[str, str], ...]
    smtp: str | None

    def __init__(
        self,
        *,
        profile: str,
        client_id: str | None,
        issuer: str | None,
        authority: str,
        tenant: str,
        scopes: tuple[str, ...],
        resource: str | None,
        graph_url: str,
        cache_dir: str,
        keyring: bool = False,
        notify: tuple[tuple[str, str], ...] = (),
        smtp: str | None = None,
    ) -> None:
        given = locals()
        for name in self.__slots__:
            object.__setattr__(self, name, given[name])  # the class refuses plain assignment

    def replace(self, **changes: Any) -> CliSettings:
        """A copy with ``changes`` (member name -> new value)."""
        return CliSettings(**{**self._asdict(), **changes})

    def _asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("CliSettings is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CliSettings):
            return NotImplemented
        return self._asdict() == other._asdict()

    def __hash__(self) -> int:
        return hash(tuple(self._asdict().values()))

    def __repr__(self) -> str:
        members = ", ".join(f"{k}={v!r}" for k, v in self._asdict().items())
        return f"CliSettings({members})"


def config_path(environ: Mapping[str, str], home: str | os.PathLike[str]) -> str:
    """The config file to read: ``DEVICEFLOW_CLI_CONFIG``, else the XDG config directory's."""
    explicit = environ.get("DEVICEFLOW_CLI_CONFIG")
    if explicit:
        return explicit
    xdg = environ.get("XDG_CONFIG_HOME", "")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(home, ".config")
    return os.path.join(base, "deviceflow", "config.ini")


def read_config(path: str | os.PathLike[str]) -> str:
    """The config file's text, or ``""`` when there is none.

    Raises:
        UsageError: the file exists but cannot be read.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the config file {path}: {exc}") from exc


def _parse_config(text: str, profile: str, source: str) -> dict[str, str]:
    import configparser  # only when there is a config file

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise UsageError(f"the config file {source} is not valid: {exc}".splitlines()[0]) from exc
    values = dict(parser[profile]) if parser.has_section(profile) else dict(parser.defaults())
    unknown = sorted(set(values) - set(_KEYS))
    if unknown:
        import difflib

        named = []
        for key in unknown:
            close = difflib.get_close_matches(key, CONFIG_KEYS, n=1, cutoff=0.6)
            named.append(f"{key} (did you mean {close[0]}?)" if close else key)
        raise UsageError(
            f"the config file {source} has unknown setting(s): {', '.join(named)}; "
            f"known: {', '.join(sorted(_KEYS))}"
        )
    return {k: v.strip() for k, v in values.items() if v.strip()}


def split_authority(url: str, *, flag: str = "--authority") -> tuple[str, str | None]:
    """Split ``https://host/tenant`` into ``("https://host", "tenant")``.

    Raises:
        UsageError: ``url`` (given as ``flag``) is not an absolute http(s) URL.
    """
    try:
        scheme, authority, rest = split_url(url)
    except ValueError:  # not http(s), no host, user information, a fragment, white space
        raise UsageError(f"{flag} must be an http(s) URL, not {url!r}") from None
    problem = _authority_problem(authority)
    if problem:
        raise UsageError(f"{flag} must be an http(s) URL, not {url!r} ({problem})")
    segments = [s for s in rest.partition("?")[0].split("/") if s]
    tenant = segments.pop() if segments else None
    base = f"{scheme}://{authority}" + "".join("/" + s for s in segments)
    return base.rstrip("/"), tenant


def _authority_problem(authority: str) -> str | None:
    """What is wrong with a URL's ``host[:port]`` (an IPv6 host in brackets), or None."""
    host, port = authority, ""
    if authority.startswith("["):
        host, bracket, after = authority[1:].partition("]")
        if not bracket or not host:
            return "an IPv6 host needs its closing bracket"
        if after and not after.startswith(":"):
            return "unexpected text after the IPv6 host"
        port = after[1:]
    elif "[" in authority or "]" in authority:
        return "brackets belong around an IPv6 host only"
    else:
        host, _, port = authority.partition(":")
        if not host:
            return "no host"
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return f"the port must be a number up to 65535, not {port!r}"
    return None


def remembered_values(settings: CliSettings) -> dict[str, object]:
    """What ``login`` remembers of ``settings`` (JSON-ready; read back by
    :func:`resolve_settings`'s ``remembered``)."""
    values: dict[str, object] = {
        "client_id": settings.client_id,
        "scope": " ".join(settings.scopes),
        "resource": settings.resource,
        "graph_url": settings.graph_url,
    }
    if settings.issuer:
        values["issuer"] = settings.issuer
    else:
        values.update(authority=settings.authority, tenant=settings.tenant)
    return {k: v for k, v in values.items() if v}


def _split_scopes(values: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        for scope in value.replace(",", " ").split():
            seen[scope] = None
    return tuple(seen)


def resolve_settings(
    flags: Mapping[str, object],
    environ: Mapping[str, str],
    *,
    config_text: str = "",
    config_source: str = "config.ini",
    home: str | os.PathLike[str],
    remembered: Callable[[str, str], Mapping[str, object]] | None = None,
) -> CliSettings:
    """Combine flags, environment, config file and the profile's remembered settings (in that
    order of precedence).

    Args:
        flags: argparse values by destination name; ``None`` (or an empty list) means not given.
            ``scope`` is a list (the flag repeats); the others are strings.
        environ: the process environment.
        config_text: the config file's text (see :func:`read_config`).
        config_source: the config file's name, for messages.
        home: the user's home directory.
        remembered: ``(cache_dir, profile) -> values`` (keys of :data:`REMEMBERED`): what the
            profile's last login used.

    Returns:
        The resolved settings.

    Raises:
        UsageError: an invalid profile name, a bad config file, ``--issuer`` combined with
            ``--authority``/``--tenant`` in the same place, or a malformed URL.
    """
    profile = _first(flags.get("profile"), environ.get("DEVICEFLOW_PROFILE")) or "default"
    try:
        check_profile_name(profile)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    config = _parse_config(config_text, profile, config_source) if config_text else {}

    layers: list[dict[str, object]] = [
        {k: v for k, v in flags.items() if k in _KEYS and v not in (None, [], "")},
        {k: environ[env] for k, env in _KEYS.items() if environ.get(env)},
        dict(config),
    ]
    cache = next((layer["cache"] for layer in layers if "cache" in layer), None)
    cache_dir = os.path.expanduser(str(cache)) if cache else default_cache_dir(environ, home)
    if remembered is not None:
        layers.append({k: v for k, v in remembered(cache_dir, profile).items() if k in REMEMBERED})

    def pick(key: str) -> object | None:
        for layer in layers:
            if key in layer:
                return layer[key]
        return None

    def rank(*keys: str) -> int:
        for index, layer in enumerate(layers):
            if any(k in layer for k in keys):
                return index
        return len(layers)

    issuer_rank, ms_rank = rank("issuer"), rank("authority", "tenant")
    if issuer_rank == ms_rank < len(layers):
        places = ("flags", "environment", f"config file {config_source}", "last login")
        where = places[issuer_rank]
        raise UsageError(f"--issuer cannot be combined with --authority or --tenant ({where})")
    issuer = str(pick("issuer")) if issuer_rank < ms_rank else None
    if issuer is not None:
        split_authority(issuer, flag="--issuer")  # validates the URL
        issuer = issuer.rstrip("/")

    authority, tenant_in_url = split_authority(str(pick("authority") or MICROSOFT_AUTHORITY))
    if tenant_in_url and rank("authority") < rank("tenant"):
        tenant = tenant_in_url  # --authority URL/TENANT beats a tenant from a lower layer
    else:
        tenant = str(pick("tenant") or tenant_in_url or DEFAULT_TENANT)

    raw_scope = pick("scope")
    scope_values = raw_scope if isinstance(raw_scope, list) else [str(raw_scope or "")]
    scopes = _split_scopes([str(s) for s in scope_values])
    if not scopes:
        scopes = OIDC_SCOPES if issuer else DEFAULT_SCOPES

    graph_url = str(pick("graph_url") or DEFAULT_GRAPH_URL).rstrip("/")
    client_id = pick("client_id")
    resource = pick("resource")
    keyring = pick("keyring")
    if isinstance(keyring, str):
        if keyring.strip().lower() not in _TRUE + _FALSE:
            raise UsageError(f"keyring must be true or false, not {keyring!r}")
        keyring = keyring.strip().lower() in _TRUE
    notify: list[tuple[str, str]] = []
    for kind in NOTIFIERS:
        given = pick(f"notify_{kind}")
        values = given if isinstance(given, list) else str(given or "").splitlines()
        notify += [(kind, str(v).strip()) for v in values if str(v).strip()]
    smtp = pick("smtp")
    return CliSettings(
        profile=profile,
        client_id=str(client_id) if client_id else None,
        issuer=issuer,
        authority=authority,
        tenant=tenant,
        scopes=scopes,
        resource=str(resource) if resource else None,
        graph_url=graph_url,
        cache_dir=cache_dir,
        keyring=bool(keyring),
        notify=tuple(notify),
        smtp=str(smtp) if smtp else None,
    )


def _first(*values: object) -> str | None:
    for value in values:
        if value:
            return str(value)
    return None
