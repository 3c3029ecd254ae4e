"""Argument parsing and dispatch for every command except ``serve``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deviceflow.cli.context import Context, World, context_from_flags
from deviceflow.cli.errors import run_guarded
from deviceflow.cli.flags import SETTINGS, TOKEN

if TYPE_CHECKING:
    from deviceflow.cli.login import LoginOptions

__all__ = ["COMMANDS", "build_parser", "run"]

COMMANDS = (
    "login",
    "token",
    "me",
    "graph",
    "accounts",
    "logout",
    "status",
    "doctor",
    "agent",
    "serve",
    "admin",
    "demo",
)

EPILOG = """\
exit codes:
  0    success
  2    usage error
  3    sign-in required (run: deviceflow login)
  4    sign-in denied
  5    code expired or --timeout passed
  6    network error
  7    server or protocol error
  130  interrupted

settings come from flags, then DEVICEFLOW_* environment variables (DEVICEFLOW_CLIENT_ID,
DEVICEFLOW_TENANT, DEVICEFLOW_AUTHORITY, DEVICEFLOW_ISSUER, DEVICEFLOW_SCOPE, DEVICEFLOW_RESOURCE,
DEVICEFLOW_GRAPH_URL, DEVICEFLOW_CACHE, DEVICEFLOW_PROFILE), then the config file
(~/.config/deviceflow/config.ini or DEVICEFLOW_CLI_CONFIG).

deviceflow doctor exits with the code of its first failed check (2 setup or app registration,
3 sign-in required, 4 refused by policy or consent, 5 code expired, 6 network, 7 server).
"""


def _settings_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings")
    for option, spec in SETTINGS.items():
        group.add_argument(option, **spec)
    return parent


def _add_login_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="JSON events on stdout; human text on stderr"
    )
    parser.add_argument(
        "--qr",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a QR code (default: only on a terminal)",
    )
    parser.add_argument(
        "--qr-invert", action="store_true", help="invert the QR code (light backgrounds)"
    )
    parser.add_argument("--qr-file", type=Path, metavar="PATH", help="also write a .png/.svg QR")
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="give up after this many seconds"
    )
    parser.add_argument(
        "--keyring",
        action="store_true",
        default=None,
        help="keep the tokens in the OS keyring (needs the keyring extra and a real backend)",
    )


def _add_agent_flags(parser: argparse.ArgumentParser) -> None:
    from deviceflow.core._timing import KEEPALIVE

    parser.add_argument(
        "--keepalive",
        type=float,
        default=KEEPALIVE,
        metavar="SECONDS",
        help=f"refresh at least this often, jittered (default {KEEPALIVE:g}: one day)",
    )
    notify = parser.add_argument_group("notifiers (repeatable; also notify_* in the config file)")
    for kind, metavar, text in (
        ("command", "CMD", "run CMD with DEVICEFLOW_EVENT, DEVICEFLOW_USER_CODE ... set"),
        ("webhook", "URL", "POST a JSON object to URL"),
        ("mqtt", "URL", "publish to mqtt[s]://host:port/topic (retained)"),
        ("email", "ADDRESS", "mail ADDRESS through --smtp"),
    ):
        notify.add_argument(
            f"--notify-{kind}", action="append", default=[], metavar=metavar, help=text
        )
    notify.add_argument(
        "--smtp", metavar="URL", help="mail server, smtp[s]://[user:pw@]host:port (localhost:25)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``deviceflow`` argument parser (``serve`` is dispatched before it)."""
    from deviceflow import __version__

    parser = argparse.ArgumentParser(
        prog="deviceflow",
        description="Sign in on devices with the OAuth 2.0 device authorization grant.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"deviceflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parent = [_settings_parent()]

    login = sub.add_parser("login", parents=parent, help="sign in (shows a code and QR code)")
    _add_login_flags(login)

    token = sub.add_parser("token", parents=parent, help="print a valid access token")
    for option, spec in TOKEN.items():
        token.add_argument(option, **spec)

    me = sub.add_parser("me", parents=parent, help="show the signed-in user (Graph /me)")
    me.add_argument("--json", action="store_true", help="print the raw JSON object")

    graph = sub.add_parser("graph", parents=parent, help="call Microsoft Graph")
    graph.add_argument("words", nargs="+", metavar="[METHOD] PATH")
    graph.add_argument("--data", metavar="JSON", help="request body")
    graph.add_argument("--all", action="store_true", help="follow @odata.nextLink pages")

    accounts = sub.add_parser("accounts", parents=parent, help="list cached accounts")
    accounts.add_argument("--json", action="store_true", help="print JSON")

    logout = sub.add_parser("logout", parents=parent, help="sign out (revoke, delete tokens)")
    logout.add_argument("--all", action="store_true", help="every profile")

    status = sub.add_parser("status", parents=parent, help="sign-in, refresh and agent status")
    status.add_argument("--json", action="store_true", help="print one JSON object")

    doctor = sub.add_parser("doctor", parents=parent, help="check the setup, explain failures")
    doctor.add_argument("--json", action="store_true", help="print one JSON object")

    agent = sub.add_parser(
        "agent", parents=parent, help="keep the sign-in fresh; re-link and notify when needed"
    )
    _add_agent_flags(agent)

    sub.add_parser("serve", help="run the authorization server (see: deviceflow serve --help)")
    sub.add_parser(
        "admin", help="users, clients and device sessions of a server (deviceflow admin --help)"
    )

    demo = sub.add_parser("demo", help="embedded server + sign-in, end to end")
    demo.add_argument("--host", default="127.0.0.1", help="listen address (0.0.0.0: LAN)")
    demo.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    demo.add_argument("--debug", action="store_true", help="show HTTP exchanges (redacted)")
    _add_login_flags(demo)
    return parser


def _dispatch(command: str) -> Callable[[Context, argparse.Namespace], int]:
    from deviceflow.cli import commands

    if command == "login":
        return _login
    if command == "demo":
        from deviceflow.cli.demo import demo

        return demo
    if command == "status":
        from deviceflow.cli.status import status

        return status
    if command == "doctor":
        from deviceflow.cli.doctor import doctor

        return doctor
    if command == "agent":
        from deviceflow.cli.agent import agent

        return agent
    handler: Callable[[Context, argparse.Namespace], int] = getattr(commands, command)
    return handler


def _login(ctx: Context, args: argparse.Namespace) -> int:
    from deviceflow.cli.login import run_login

    run_login(ctx, login_options(args))
    return 0


def login_options(args: argparse.Namespace) -> LoginOptions:
    """The :class:`~deviceflow.cli.login.LoginOptions` from parsed flags."""
    from dataclasses import fields

    from deviceflow.cli.login import LoginOptions

    # The flags carry the options' own names (``--qr-invert`` is stored as ``qr_invert``).
    return LoginOptions(**{field.name: getattr(args, field.name) for field in fields(LoginOptions)})


def run(argv: Sequence[str], world: World | None = None) -> int:
    """Parse ``argv``, run the command, and return the exit code (never raises)."""
    world = world or World()
    parser = build_parser()
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        print(
            f"deviceflow: unknown command {argv[0]!r} (commands: {', '.join(COMMANDS)})",
            file=world.stderr,
        )
        return 2
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2

    def body() -> int:
        ctx = context_from_flags(vars(args), world)
        return _dispatch(args.command)(ctx, args)

    return run_guarded(body, stderr=world.stderr)
