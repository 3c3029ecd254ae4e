"""``deviceflow admin``: the command line over :mod:`deviceflow.server.admin.accounts`.

``deviceflow admin users add|list|show|disable|enable|set-password|delete``,
``deviceflow admin clients add|list|disable|delete`` and
``deviceflow admin sessions list|revoke --user NAME``, each with ``--tenant``, ``--json``,
``--config`` and ``--db`` (as ``deviceflow serve`` takes them). Passwords come from a prompt
(twice, not echoed) or from the first line of standard input (``--password-stdin``), never from
an argument. Audit events go to standard error, one line each.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from deviceflow.cli.errors import (
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_SERVER,
    EXIT_USAGE,
)
from deviceflow.server import logsafe
from deviceflow.server.admin.accounts import (
    AdminError,
    Administration,
    client_view,
    session_view,
    user_view,
)
from deviceflow.server.endpoints.context import format_time
from deviceflow.server.grant._accounts import client_of
from deviceflow.server.settings import SettingsError, Tenant

EPILOG = """\
exit codes (the CLI's table: deviceflow --help):
  0    done
  2    usage or setup error: bad arguments, no password given, a password too short; no such
       tenant, user, client or session; it exists already, or the configuration file defines
       it (which wins: edit it there); a wrong --config or --db, or a database that refuses
  6    the database cannot be reached
  7    the database failed otherwise (it cannot be opened, a disk error)
  130  interrupted (Ctrl-C)
"""

EXIT_CONFIG = EXIT_USAGE
"""A wrong ``--config`` or ``--db``, or a database that refuses for good (as ``serve``)."""
EXIT_UNAVAILABLE = EXIT_NETWORK
"""The database cannot be reached."""
EXIT_DATABASE = EXIT_SERVER
"""The database failed otherwise."""


def _common() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", type=Path, help="the server's TOML configuration file")
    parent.add_argument("--db", help="the server's database: sqlite:///PATH or postgresql://...")
    parent.add_argument("--tenant", help="tenant id or name (default: the first tenant)")
    parent.add_argument("--json", action="store_true", help="print JSON")
    return parent


def _password_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``deviceflow admin`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="deviceflow admin",
        description="Manage the users, clients and device sessions in the server's database.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    areas = parser.add_subparsers(dest="area", metavar="AREA", required=True)
    common = [_common()]

    users = areas.add_parser("users", help="users who sign in").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    add = users.add_parser("add", parents=common, help="create a user (asks for a password)")
    add.add_argument("username")
    add.add_argument("--display-name", default="", help="full name (default: the username)")
    add.add_argument("--mail", help="mail address (also a sign-in name)")
    _password_flag(add)
    users.add_parser("list", parents=common, help="list the tenant's users")
    for action, text in (
        ("show", "show one user"),
        ("disable", "refuse the user's sign-ins and refreshes"),
        ("enable", "allow the user again"),
        ("set-password", "replace the user's password (asks for it)"),
        ("delete", "delete the user"),
    ):
        one = users.add_parser(action, parents=common, help=text)
        one.add_argument("username")
        if action == "set-password":
            _password_flag(one)

    clients = areas.add_parser("clients", help="applications").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    add = clients.add_parser("add", parents=common, help="register an application")
    add.add_argument("name", help="the name people see on the confirm page")
    add.add_argument("--client-id", help="its client id (default: a new GUID)")
    add.add_argument(
        "--confidential", action="store_true", help="a confidential client: prints its secret once"
    )
    add.add_argument("--scope", action="append", default=[], help="an allowed scope (repeat)")
    clients.add_parser("list", parents=common, help="list the tenant's clients")
    for action, text in (("disable", "refuse the client everywhere"), ("delete", "delete it")):
        clients.add_parser(action, parents=common, help=text).add_argument("client_id")

    sessions = areas.add_parser("sessions", help="devices signed in as a user").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    for action, text in (("list", "list a user's devices"), ("revoke", "sign one device out")):
        one = sessions.add_parser(action, parents=common, help=text)
        one.add_argument("--user", required=True, help="username or mail")
        if action == "revoke":
            one.add_argument("session", nargs="?", help="the session id (from: sessions list)")
            one.add_argument("--all", action="store_true", help="every device of the user")
    return parser


def read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    """The password from standard input (``--password-stdin``) or a prompt, twice.

    Raises:
        AdminError: (2) nothing on standard input, no terminal to ask on, or the two
            entries differ.
    """
    if args.password_stdin:
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise AdminError("no password on standard input", exit_code=EXIT_USAGE)
        return password
    if not stdin.isatty():
        raise AdminError(
            "no terminal to ask for the password on: use --password-stdin", exit_code=EXIT_USAGE
        )
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != password:
        raise AdminError("the two passwords differ", exit_code=EXIT_USAGE)
    return password


def _print(out: TextIO, args: argparse.Namespace, value: Any, text: str) -> None:
    print(json.dumps(value, indent=2) if args.json else text, file=out)


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(r.get(c) if r.get(c) is not None else "-") for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _run(admin: Administration, args: argparse.Namespace, out: TextIO, stdin: TextIO) -> None:
    tenant = admin.tenant(args.tenant)
    {"users": _users, "clients": _clients, "sessions": _sessions}[args.area](
        admin, tenant, args, out, stdin
    )


def _users(
    admin: Administration, tenant: Tenant, args: argparse.Namespace, out: TextIO, stdin: TextIO
) -> None:
    action = args.action
    if action == "add":
        password = read_password(args, stdin)
        user = admin.add_user(
            tenant, args.username, password, display_name=args.display_name, mail=args.mail
        )
        _print(out, args, user_view(user), f"added user {user.username} ({user.id})")
    elif action == "list":
        rows = admin.users(tenant)
        columns = ("username", "display_name", "mail", "enabled", "source", "id")
        _print(out, args, rows, _table(rows, columns))
    elif action == "show":
        shown = admin.show_user(tenant, args.username)
        lines = [
            f"{k}: {format_time(v) if k.endswith('_at') else '-' if v is None else v}"
            for k, v in shown.items()
        ]
        _print(out, args, shown, "\n".join(lines))
    elif action in ("disable", "enable"):
        user = admin.set_enabled(tenant, args.username, action == "enable")
        _print(out, args, user_view(user), f"{action}d user {user.username}")
    elif action == "set-password":
        admin.set_password(tenant, args.username, read_password(args, stdin))
        _print(out, args, {"username": args.username}, f"password set for {args.username}")
    else:
        admin.delete_user(tenant, args.username)
        _print(out, args, {"deleted": args.username}, f"deleted user {args.username}")


def _clients(
    admin: Administration, tenant: Tenant, args: argparse.Namespace, out: TextIO, _stdin: TextIO
) -> None:
    action = args.action
    if action == "add":
        stored, secret = admin.add_client(
            tenant, args.name, client_id=args.client_id, confidential=args.confidential,
            scopes=tuple(args.scope),
        )  # fmt: skip
        view = client_view(client_of(stored), source="database")
        text = f"added client {stored.name}\nclient_id: {stored.client_id}"
        if secret is not None:  # asked for: printed once, kept nowhere
            view["client_secret"] = secret
            text += f"\nclient_secret: {secret}\n(shown once: it is stored only as a hash)"
        _print(out, args, view, text)
    elif action == "list":
        rows = admin.clients(tenant)
        _print(out, args, rows, _table(rows, ("client_id", "name", "public", "enabled", "source")))
    elif action == "disable":
        admin.disable_client(tenant, args.client_id)
        _print(out, args, {"disabled": args.client_id}, f"disabled client {args.client_id}")
    else:
        admin.delete_client(tenant, args.client_id)
        _print(out, args, {"deleted": args.client_id}, f"deleted client {args.client_id}")


def _sessions(
    admin: Administration, tenant: Tenant, args: argparse.Namespace, out: TextIO, _stdin: TextIO
) -> None:
    if args.action == "list":
        found = [session_view(s) for s in admin.sessions(tenant, args.user)]
        rows = [
            {**s, "signed_in_at": format_time(s["signed_in_at"]),
             "last_used_at": format_time(s["last_used_at"])}
            for s in found
        ]  # fmt: skip
        columns = ("id", "application", "ip", "user_agent", "signed_in_at", "last_used_at")
        _print(out, args, found, _table(rows, columns))
    else:
        if bool(args.session) == bool(args.all):
            raise AdminError("name one session, or give --all", exit_code=EXIT_USAGE)
        wanted = (
            [args.session] if args.session else [s.id for s in admin.sessions(tenant, args.user)]
        )
        for session in wanted:
            admin.revoke_session(tenant, args.user, session)
        _print(out, args, {"revoked": wanted}, f"revoked {len(wanted)} session(s) of {args.user}")


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def main(
    argv: Sequence[str],
    *,
    environ: dict[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run ``deviceflow admin``; return the exit code (see :data:`EPILOG`).

    Raises:
        Nothing: every failure prints one line on ``err`` and returns its code.
    """
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exc:
        return EXIT_OK if exc.code in (0, None) else EXIT_USAGE
    environ = dict(os.environ if environ is None else environ)
    # The audit events of this run, one line each on err (the library configures no handler).
    audit = logging.getLogger("deviceflow.audit")
    handler = logging.StreamHandler(err)
    handler.setFormatter(logsafe.SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    level = audit.level
    audit.addHandler(handler)
    audit.setLevel(logging.INFO)
    try:
        return _main(args, environ, out, err, stdin)
    finally:
        audit.removeHandler(handler)
        audit.setLevel(level)


def _main(
    args: argparse.Namespace, environ: dict[str, str], out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    from deviceflow.server.serve_settings import load_database_settings
    from deviceflow.server.storage import open_storage

    try:
        settings = load_database_settings(args.config, args.db, environ)
    except SettingsError as exc:
        print(f"deviceflow admin: configuration error: {exc}", file=err)
        return EXIT_CONFIG
    url = settings.database_url
    if url == "memory:":
        print("deviceflow admin: memory: storage lives inside one server; use --db", file=err)
        return EXIT_USAGE
    try:
        if settings.data_dir is not None and settings.db_url is None:  # as serve makes it
            settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        storage = open_storage(url)
    except ValueError as exc:  # not a database URL this server knows, a database that refuses
        print(f"deviceflow admin: configuration error: {exc}", file=err)
        return EXIT_CONFIG
    except ConnectionError as exc:  # an unreachable database server
        print(f"deviceflow admin: database unreachable: {exc}", file=err)
        return EXIT_UNAVAILABLE
    except Exception as exc:  # a file it may not open, a failed migration
        logging.getLogger("deviceflow.server").debug("opening the database failed", exc_info=True)
        print(f"deviceflow admin: cannot open the database: {exc}", file=err)
        return EXIT_DATABASE
    try:
        admin = Administration(settings, storage, clock=time.time, actor=_actor())
        _run(admin, args, out, stdin)
    except AdminError as exc:
        print(f"deviceflow admin: {exc}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        print("deviceflow admin: interrupted", file=err)
        return EXIT_INTERRUPTED
    except ConnectionError as exc:  # the database server went away
        print(f"deviceflow admin: database unreachable: {exc}", file=err)
        return EXIT_UNAVAILABLE
    finally:
        storage.close()
    return EXIT_OK
