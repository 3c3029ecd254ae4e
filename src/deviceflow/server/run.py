"""``deviceflow serve``: run the authorization server under uvicorn.

``deviceflow serve [--host 127.0.0.1] [--port 8765] [--config FILE.toml] [--db sqlite:///PATH]
[--tls | --tls-cert CERT.pem --tls-key KEY.pem] [--test-control]``

``--tls`` serves HTTPS with certificates from a local CA kept in ``{data_dir}/tls`` (see
:mod:`deviceflow.server.tls`) and prints the CA file with the environment variables that make
Python and Node clients trust it; ``--tls-cert``/``--tls-key`` use your own certificate.

``--test-control`` serves the token-guarded test-control API (docs/testing.md) and prints its
token; the development setup has it on.

Without ``--config`` the development setup starts (a demo tenant, client and users) and a loud
banner says so, with the demo credentials. The base URL is printed once the socket listens, then
each tenant's issuer (what strict OpenID Connect clients must be given).
SIGINT and SIGTERM stop the server gracefully and the command exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from deviceflow.server import logsafe
from deviceflow.server.dialects import dialect_named
from deviceflow.server.settings import Settings, SettingsError
from deviceflow.server.tls import TlsError, TlsFiles, local_ca, own_files, trust_hint

if TYPE_CHECKING:
    from deviceflow.server.grant import GrantEngine

logger = logging.getLogger("deviceflow.server")

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_UNAVAILABLE = 4


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deviceflow serve",
        description="Run the deviceflow authorization server (RFC 8628 device flow).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument("--db", help="sqlite:///PATH, postgresql://USER@HOST/DB or memory:")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a local CA kept in the data directory (created once, reused)",
    )
    parser.add_argument("--tls-cert", type=Path, help="your own server certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the private key of --tls-cert (PEM)")
    parser.add_argument(
        "--test-control",
        action="store_true",
        help="serve the token-guarded test-control API (docs/testing.md); the token is printed",
    )
    return parser


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
    if not settings.public_url:
        host = args.host if ":" not in args.host else f"[{args.host}]"
        shown = "127.0.0.1" if host in ("0.0.0.0", "[::]") else host
        scheme = "https" if uses_tls(args) else "http"
        settings = dataclasses.replace(settings, public_url=f"{scheme}://{shown}:{args.port}")
    return settings


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


def issuer_lines(settings: Settings, engine: GrantEngine) -> list[str]:
    """One line per tenant: the issuer to give strict OpenID Connect clients.

    An RFC tenant is the issuer of each of its names (the one in the discovery URL); a Microsoft
    tenant's issuer names it by GUID whatever name the client uses, as Entra does.
    """
    lines = []
    for tenant in settings.tenants:
        name = dialect_named(tenant.dialect).issuer_name(tenant.id, tenant.guid)
        line = f"tenant {tenant.id} ({tenant.dialect}): issuer {engine.issuer(tenant, name)}"
        if name != tenant.id:
            line += " (under every tenant name: strict clients must be given this issuer)"
        lines.append(line)
    return lines


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a busy port is a clean error, not an exit.

    Raises:
        OSError: The address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def uvicorn_options() -> dict[str, object]:
    """uvicorn options shared by ``deviceflow serve`` and the benchmark's bare-ASGI ceiling.

    ``http`` is uvicorn's native parser (``httptools``, pinned in the ``server`` extra) with the
    head size limits and read timeouts of :mod:`deviceflow.server.http_limits`, else the
    pure-Python one with its head size cap; the event loop is chosen by :func:`run_event_loop`.
    """
    try:
        from deviceflow.server.http_limits import protocol_options
    except ImportError:  # pragma: no cover - the server extra pins httptools
        limits: dict[str, object] = {"http": "h11", "h11_max_incomplete_event_size": 32 * 1024}
    else:
        limits = protocol_options()
    return {
        **limits,
        "log_config": None,
        "access_log": False,  # uvicorn's access log would print query strings (user codes)
        "server_header": False,
        # uvicorn believes X-Forwarded-For from loopback by default: off. The app believes it
        # from `trusted_proxies` only (deviceflow.server.proxies).
        "proxy_headers": False,
        "lifespan": "off",  # the bench's bare ASGI ceiling has none; serve turns it on
        # Idle keep-alive connections (TLS ones linger) must not hold a stop forever.
        "timeout_graceful_shutdown": 5,
    }


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop when it is installed (the ``server`` extra), else on asyncio."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the server extra pins uvloop (not on Windows)
        asyncio.run(main)
    else:
        uvloop.run(main)


async def _serve(
    settings: Settings,
    args: argparse.Namespace,
    sock: socket.socket,
    out: TextIO,
    tls: TlsFiles | None = None,
) -> None:
    import uvicorn

    from deviceflow.server.app import create_app
    from deviceflow.server.storage import open_storage

    if settings.data_dir is not None:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    storage = open_storage(settings.database_url)
    try:
        app = create_app(settings, storage=storage, clock=time.time, rng=secrets.token_bytes)
        for hidden in app.state.ctx.engine.accounts.shadowed():
            logger.warning(
                "the configuration file defines %s too: the database's is not used"
                " (deviceflow admin ... delete it, or rename one)",
                hidden,
            )
        if settings.test_control:
            token = app.state.ctx.settings.test_control_token
            print(f"deviceflow serve: test-control API on; token: {token}", file=out, flush=True)
        config = uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            # The app's lifespan purges expired rows on a schedule (deviceflow.server.purge).
            **{**uvicorn_options(), "lifespan": "on"},  # type: ignore[arg-type]
            ssl_certfile=str(tls.certfile) if tls else None,
            ssl_keyfile=str(tls.keyfile) if tls else None,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            print(f"deviceflow server listening on {settings.public_url}", file=out, flush=True)
            print("\n".join(issuer_lines(settings, app.state.ctx.engine)), file=out, flush=True)
        await task
    finally:
        storage.close()


def main(argv: Sequence[str]) -> int:
    """Run the server from command-line arguments; return the exit code.

    Raises:
        Nothing: configuration errors print a message and return a non-zero code.
    """
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    # One line per record, whatever a request put in it (control characters escaped).
    logsafe.install(
        args.log_level.upper(), sys.stderr, "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(args, os.environ)
    except SettingsError as exc:
        print(f"deviceflow serve: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        tls = tls_files(args, settings, clock=time.time)
    except (SettingsError, TlsError) as exc:
        print(f"deviceflow serve: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if settings.is_development:
        print(development_banner(settings), file=sys.stderr, flush=True)
    if tls is not None and tls.ca is not None:
        print(trust_hint(tls.ca), file=sys.stdout, flush=True)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"deviceflow serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
    # that was installed before it started: make that a no-op so a requested stop exits 0.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with sock:
            run_event_loop(_serve(settings, args, sock, sys.stdout, tls))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK
