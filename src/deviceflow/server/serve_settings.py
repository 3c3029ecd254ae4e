"""``deviceflow serve``'s settings: the configuration and database flags merged over the file's,
the TLS files to serve with, and the development banner (what :mod:`deviceflow.server.run`
prints before it listens). ``deviceflow admin`` reads the same database settings
(:func:`load_database_settings`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from deviceflow.server.settings import Settings, SettingsError
from deviceflow.server.settings._loading import parse_address
from deviceflow.server.tls import TlsFiles, local_ca, own_files


def uses_tls(args: argparse.Namespace) -> bool:
    """Whether the server speaks HTTPS (``--tls`` or ``--tls-cert``)."""
    return bool(getattr(args, "tls", False) or getattr(args, "tls_cert", None))


def tls_folder(settings: Settings) -> Path:
    """Where ``--tls`` keeps its CA: ``{data_dir}/tls``, else beside the SQLite database.

    Raises:
        SettingsError: Neither a data directory nor a SQLite database is configured.
    """
    if settings.data_dir is not None:
        return settings.data_dir / "tls"
    url = settings.database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent / "tls"
    raise SettingsError("--tls needs a data directory: set DEVICEFLOW_DATA_DIR or data_dir")


def tls_files(
    args: argparse.Namespace, settings: Settings, *, clock: Callable[[], float]
) -> TlsFiles | None:
    """The certificate and key to serve with, or None for plain HTTP.

    Raises:
        SettingsError: ``--tls-cert`` without ``--tls-key`` (or the reverse), or no data dir.
        TlsError: The certificate files cannot be created or read.
    """
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SettingsError("--tls-cert and --tls-key go together")
    if args.tls_cert:
        return own_files(args.tls_cert, args.tls_key)
    if not args.tls:
        return None
    host = args.host if args.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return local_ca(tls_folder(settings), host, clock=clock)


def load_settings(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str]) -> Settings:
    """Settings from ``--config`` (else the environment / development setup) and ``--db``.

    Raises:
        SettingsError: The configuration is invalid.
    """
    settings = load_database_settings(args.config, args.db, environ)
    if getattr(args, "test_control", False):
        settings = dataclasses.replace(settings, test_control=True)
    settings = _serve_flags(args, settings)
    if not settings.public_url:
        host = args.host if ":" not in args.host else f"[{args.host}]"
        shown = "127.0.0.1" if host in ("0.0.0.0", "[::]") else host
        scheme = "https" if uses_tls(args) else "http"
        settings = dataclasses.replace(settings, public_url=f"{scheme}://{shown}:{args.port}")
    return settings


def _serve_flags(args: argparse.Namespace, settings: Settings) -> Settings:
    """``--metrics``, ``--metrics-address``, ``--log-format`` and ``--drain`` over the file's.

    Raises:
        SettingsError: a bad ``--metrics-address`` or a negative ``--drain``.
    """
    changes: dict[str, object] = {}
    if getattr(args, "metrics", False):
        changes["metrics"] = True
    address = getattr(args, "metrics_address", None)
    if address:
        parse_address(address, "--metrics-address")
        changes.update(metrics=True, metrics_address=address)
    metrics_address = address or settings.metrics_address
    if metrics_address and parse_address(metrics_address, "metrics_address")[1] == args.port:
        raise SettingsError("metrics_address: its port must differ from the server's --port")
    if getattr(args, "log_format", None):
        changes["log_format"] = args.log_format
    drain = getattr(args, "drain", None)
    if drain is not None:
        if drain < 0:
            raise SettingsError("--drain: must not be negative")
        changes["shutdown_drain"] = drain
    return dataclasses.replace(settings, **changes) if changes else settings  # type: ignore[arg-type]


def load_database_settings(
    config: Path | None, db: str | None, environ: Mapping[str, str]
) -> Settings:
    """Settings from ``config`` (else the environment / development setup) with the database
    ``db`` (else the configured one, else SQLite in the default data directory): what
    ``deviceflow serve`` and ``deviceflow admin`` agree on.

    Raises:
        SettingsError: The configuration is invalid.
    """
    if config is not None:
        settings = Settings.from_toml(config, dict(environ))
    else:
        settings = Settings.from_env(dict(environ))
    if db:
        settings = dataclasses.replace(settings, db_url=db)
    if settings.db_url is None and settings.data_dir is None:
        # SQLite by default, so pending flows and keys survive a restart; `--db memory:` opts out.
        settings = dataclasses.replace(settings, data_dir=default_data_dir(environ))
    return settings


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/deviceflow``, else ``~/.local/share/deviceflow``."""
    base = environ.get("XDG_DATA_HOME") or ""
    if not base:
        home = environ.get("HOME") or str(Path.home())
        base = str(Path(home) / ".local" / "share")
    return Path(base) / "deviceflow"


def development_banner(settings: Settings) -> str:
    """The loud notice printed when the built-in development setup is running."""
    bar = "!" * 72
    lines = [
        bar,
        "!! DEVELOPMENT MODE: demo tenant, demo client and demo users.",
        "!! Anyone who can reach this server can sign in with these credentials.",
        "!! Pass --config FILE.toml for real use (see docs/configuration.md).",
    ]
    for tenant in settings.tenants:
        lines.append(f"!!   tenant: {tenant.id}  (dialect {tenant.dialect})")
    for client in settings.clients:
        lines.append(f"!!   client_id: {client.client_id}  ({client.name})")
    for username, password in settings.dev_credentials:
        lines.append(f"!!   user: {username}  password: {password}")
    if settings.database_url == "memory:":
        lines.append("!!   storage: in memory (everything is lost on exit)")
    else:
        lines.append(f"!!   storage: {settings.database_url}")
    lines.append(bar)
    return "\n".join(lines)
