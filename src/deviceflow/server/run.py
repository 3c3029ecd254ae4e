"""``deviceflow serve``: run the authorization server under uvicorn.

``deviceflow serve [--host 127.0.0.1] [--port 8765] [--config FILE.toml] [--db sqlite:///PATH]
[--tls | --tls-cert CERT.pem --tls-key KEY.pem] [--test-control] [--log-file FILE
[--background]]``

``--tls`` serves HTTPS with certificates from a local CA kept in ``{data_dir}/tls`` (see
:mod:`deviceflow.server.tls`) and prints the CA file with the environment variables that make
Python and Node clients trust it; ``--tls-cert``/``--tls-key`` use your own certificate.

``--test-control`` serves the token-guarded test-control API (docs/testing.md) and prints its
token; the development setup has it on.

``--metrics`` serves Prometheus metrics at ``/metrics``; ``--metrics-address HOST:PORT`` serves
them there instead (and only there). ``--log-format json`` writes one JSON object per log record
(:class:`~deviceflow.server.logsafe.JsonFormatter`). ``--drain SECONDS``: on SIGTERM, ``/readyz``
answers 503 for that long while every request is still served, then the server stops
(docs/operations.md, rolling restarts). ``--workers N`` answers the port from N processes
(:mod:`deviceflow.server.workers`).

Without ``--config`` the development setup starts (a demo tenant, client and users) and a loud
banner says so, with the demo credentials. Once the socket listens the address it listens on is
printed (then ``public_url``, when it differs: the address issuers and links carry), then each
tenant's issuer (what strict OpenID Connect clients must be given).

Log records go to stderr, or to ``--log-file``. ``--background`` (with ``--log-file``) starts the
server as a detached child and returns once it listens (:mod:`deviceflow.server.background`), so
nothing it logs later lands in the terminal.

Exit codes, on the CLI's one table (:mod:`deviceflow.cli.errors`): 0 after a requested stop
(SIGINT, SIGTERM); 2 for a wrong flag, configuration or database URL, or a database that
refuses for good (it does not exist, an unknown user); 6 when the address cannot be listened on
(the port is in use) or the database cannot be reached; 7 when the database fails otherwise.
Every failure is one line on stderr, never a traceback.
SIGINT and SIGTERM stop the server gracefully: it stops listening, finishes the requests in
flight, ends the app's lifespan and closes storage; the command exits 0. A second signal during
the drain stops at once (still gracefully).

The socket, uvicorn and the ready lines are :mod:`deviceflow.server.serving`'s; the settings
:mod:`deviceflow.server.serve_settings`'; this module reads flags, opens the log and storage,
and maps each failure to its exit code.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from deviceflow.cli.errors import EXIT_NETWORK, EXIT_OK, EXIT_SERVER, EXIT_USAGE
from deviceflow.server import logsafe
from deviceflow.server.background import start_in_background
from deviceflow.server.serve_settings import (
    development_banner,
    load_settings,
    tls_files,
)
from deviceflow.server.serving import bind, run_event_loop, serve
from deviceflow.server.settings import Settings, SettingsError
from deviceflow.server.settings._loading import parse_address
from deviceflow.server.storage import SCHEMES, check_database_url
from deviceflow.server.tls import TlsError, TlsFiles, trust_hint
from deviceflow.server.workers import WorkersError, serve_workers
from deviceflow.server.workers import check as check_workers

if TYPE_CHECKING:
    from deviceflow.server.storage import Storage

logger = logging.getLogger("deviceflow.server")

# deviceflow serve's failures on the CLI's one exit-code table (see the module docstring).
EXIT_CONFIG = EXIT_USAGE
"""A flag, the configuration or the database URL is wrong, or the database refuses for good."""
EXIT_UNAVAILABLE = EXIT_NETWORK
"""The address cannot be listened on (port in use), or the database cannot be reached."""
EXIT_DATABASE = EXIT_SERVER
"""The database failed otherwise (a migration, a disk error)."""

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
METRICS_HINT = "metrics need the metrics extra: pip install 'deviceflow[metrics]'"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deviceflow serve",
        description="Run the deviceflow authorization server (RFC 8628 device flow).",
        epilog="exit codes: 0 stopped (SIGINT, SIGTERM); 2 configuration, --db URL, or a"
        " database that refuses (does not exist, unknown user); 6 port in use or database"
        " unreachable; 7 other database failure",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument("--db", help=f"database URL: {SCHEMES}")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log records at this level and above (default info: one line per request)",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        metavar="FILE",
        help="append log records to FILE instead of stderr",
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="with --log-file: return once the server listens, leaving it running (its PID is"
        " printed; stop it with kill PID); everything it prints then goes to FILE",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a local CA kept in the data directory (created once, reused)",
    )
    parser.add_argument("--tls-cert", type=Path, help="your own server certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the private key of --tls-cert (PEM)")
    parser.add_argument(
        "--metrics", action="store_true", help="serve Prometheus metrics at /metrics"
    )
    parser.add_argument(
        "--metrics-address",
        metavar="HOST:PORT",
        help="serve /metrics on this address only (implies --metrics)",
    )
    parser.add_argument(
        "--log-format", choices=["text", "json"], help="log records as text lines or JSON objects"
    )
    parser.add_argument(
        "--drain",
        type=float,
        metavar="SECONDS",
        help="on SIGTERM, answer /readyz 503 for this long before stopping (default 0)",
    )
    parser.add_argument(
        "--test-control",
        action="store_true",
        help="serve the token-guarded test-control API (docs/testing.md); the token is printed",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve the port from N processes (Linux; default 1): for fleets larger than one"
        " core answers (docs/deployment.md); not with --metrics or --test-control",
    )
    return parser


def open_database(settings: Settings) -> Storage:
    """Create the data directory if one is set, then open the storage.

    Raises:
        DatabaseSetupError: the database refuses for good (ValueError: an unsupported URL or a
            missing extra, too).
        ConnectionError: the database cannot be reached.
        Exception: anything else the database driver raises (a failed migration).
    """
    from deviceflow.server.storage import open_storage

    if settings.data_dir is not None:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return open_storage(settings.database_url)


def _fail(kind: str, why: object, code: int) -> int:
    print(f"deviceflow serve: {kind}: {why}", file=sys.stderr, flush=True)
    return code


def main(argv: Sequence[str]) -> int:
    """Run the server from command-line arguments; return the exit code.

    Raises:
        Nothing: every failure prints one line and returns a code of the module docstring.
    """
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    if args.background:
        if args.log_file is None:
            print("deviceflow serve: --background needs --log-file FILE", file=sys.stderr)
            return EXIT_USAGE
        return start_in_background(argv, args.log_file, out=sys.stdout, err=sys.stderr)
    try:
        log_stream = open_log(args.log_file)
    except OSError as exc:
        return _fail("cannot open the log file", exc, EXIT_CONFIG)
    try:
        return _run(args, log_stream)
    finally:
        if log_stream is not sys.stderr:
            log_stream.close()


def open_log(path: Path | None) -> TextIO:
    """``--log-file`` opened for appending, one line at a time; stderr without it.

    Raises:
        OSError: the file cannot be opened.
    """
    if path is None:
        return sys.stderr
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "a", encoding="utf-8", buffering=1)


def _run(args: argparse.Namespace, log_stream: TextIO) -> int:
    # One line per record, whatever a request put in it (control characters escaped).
    log_handler = logsafe.install(
        args.log_level.upper(), log_stream, _TEXT_FORMAT, json=args.log_format == "json"
    )
    try:
        settings = load_settings(args, os.environ)
    except SettingsError as exc:
        return _fail("configuration error", exc, EXIT_CONFIG)
    if settings.log_format == "json" and args.log_format is None:  # the file asks for it
        log_handler.setFormatter(logsafe.JsonFormatter())
    if settings.metrics or settings.metrics_address:
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            print(f"deviceflow serve: {METRICS_HINT}", file=sys.stderr)
            return EXIT_CONFIG
    workers = getattr(args, "workers", 1)
    try:
        check_workers(
            workers,
            test_control=settings.test_control,
            metrics=bool(settings.metrics or settings.metrics_address),
        )
    except WorkersError as exc:
        return _fail("configuration error", exc, EXIT_CONFIG)
    try:
        tls = tls_files(args, settings, clock=time.time)
    except (SettingsError, TlsError) as exc:
        return _fail("configuration error", exc, EXIT_CONFIG)
    try:
        check_database_url(settings.database_url)
    except ValueError as exc:
        return _fail("configuration error", f"--db (db_url): {exc}", EXIT_CONFIG)
    if settings.is_development:
        print(development_banner(settings), file=sys.stderr, flush=True)
    if tls is not None and tls.ca is not None:
        print(trust_hint(tls.ca), file=sys.stdout, flush=True)
    if workers > 1:
        return _run_workers(args, settings, tls, workers)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}", exc, EXIT_UNAVAILABLE)
    metrics_sock = None
    if settings.metrics_address:
        mhost, mport = parse_address(settings.metrics_address, "metrics_address")
        try:
            metrics_sock = bind(mhost, mport)
        except OSError as exc:
            sock.close()
            return _fail(f"cannot listen on {mhost}:{mport}", exc, EXIT_UNAVAILABLE)
    with sock:
        try:
            return _serve_on(args, settings, sock, sys.stdout, tls, metrics_sock)
        finally:
            if metrics_sock is not None:
                metrics_sock.close()


def _open_storage(settings: Settings) -> Storage | int:
    """The opened storage, or the exit code of why it cannot be (the line already printed)."""
    try:
        return open_database(settings)
    except ValueError as exc:  # DatabaseSetupError, a missing extra
        return _fail("database error", exc, EXIT_CONFIG)
    except ConnectionError as exc:
        return _fail("database unreachable", exc, EXIT_UNAVAILABLE)
    except Exception as exc:
        logger.debug("opening the database failed", exc_info=True)
        url = settings.database_url  # a SQLite path is no secret; a PostgreSQL URL may be
        where = url if url.startswith("sqlite:") else "PostgreSQL"
        return _fail(f"database error ({where})", exc, EXIT_DATABASE)


def _serve_on(
    args: argparse.Namespace,
    settings: Settings,
    sock: socket.socket,
    out: TextIO,
    tls: TlsFiles | None,
    metrics_sock: socket.socket | None = None,
) -> int:
    """Open storage and serve on ``sock`` until stopped; the exit code."""
    storage = _open_storage(settings)
    if isinstance(storage, int):
        return storage
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    # handler installed before it started: make that a no-op so a requested stop exits 0.
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in stops}
    try:
        run_event_loop(serve(settings, args, sock, storage, out, tls, metrics_sock))
    finally:
        storage.close()
        logger.info("deviceflow server stopped; storage closed")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def _run_workers(
    args: argparse.Namespace, settings: Settings, tls: TlsFiles | None, count: int
) -> int:
    """``--workers N`` (:mod:`deviceflow.server.workers`)."""
    from deviceflow.server.app import create_app

    def prepare() -> int | None:
        # Migrations, the generated secret key, signing keys: made once, before any worker
        # could race another to make them.
        storage = _open_storage(settings)
        if isinstance(storage, int):
            return storage
        try:
            create_app(settings, storage=storage, clock=time.time, rng=secrets.token_bytes)
        finally:
            storage.close()
        return None

    def run_one(sock: socket.socket, ready: TextIO) -> int:
        return _serve_on(args, settings, sock, ready, tls)

    try:
        return serve_workers(args.host, args.port, count, prepare, run_one, sys.stdout)
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}", exc, EXIT_UNAVAILABLE)
