"""The ``deviceflow`` argument parser: every command but ``serve``, with its help.

Each command has a description (``deviceflow COMMAND --help``) and every option a help text that
states its default. The top-level epilog holds the exit-code table (from
:data:`deviceflow.cli.errors.EXIT_CODES`), the environment variables and the config file's keys;
the README repeats them and a test compares the two. Shell completion
(:mod:`deviceflow.cli.completion`) is generated from this same tree.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from deviceflow.cli.errors import exit_code_table
from deviceflow.cli.flags import SETTINGS, TOKEN

__all__ = ["COMMANDS", "ENVIRONMENT", "GRAPH_METHODS", "GRAPH_USAGE", "build_parser", "epilog"]

GRAPH_METHODS = ("GET", "POST", "PATCH", "DELETE")
#: ``graph``'s usage line: ``--help`` and its errors print the same.
GRAPH_USAGE = "deviceflow graph [-h] [settings] [--data JSON] [--all] [METHOD] PATH"

#: ``(name, one-line help, description)`` of every command, in ``--help`` order.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    (
        "login",
        "sign in (shows a code and QR code)",
        "Start a device sign-in: show the code, the URL, a QR code and the time left, wait until "
        "someone approves it in a browser, and save the tokens in the profile. The profile also "
        "remembers where it signed in (client id, authority or issuer, tenant, scopes, Graph "
        "URL), so the other commands, and the next login, need no flags.",
    ),
    (
        "token",
        "print a valid access token",
        "Print a valid access token, and nothing else, on stdout; refresh it silently when it "
        "expires soon. Never starts a sign-in: exits 3 when one is needed.",
    ),
    ("me", "show the signed-in user (Graph /me)", "Show the signed-in user (Graph GET /v1.0/me)."),
    (
        "graph",
        "call Microsoft Graph",
        "Call Microsoft Graph (or the server's emulation of it) with the profile's token and "
        "print the JSON answer. METHOD is GET (default), POST, PATCH or DELETE.",
    ),
    (
        "accounts",
        "list cached accounts",
        "List the signed-in profiles (with --profile: only that one): account, issuer and token "
        "state, tab-separated; --json for objects.",
    ),
    (
        "logout",
        "sign out (revoke, delete tokens)",
        "Revoke the sign-in at the server (RFC 7009), then delete the profile's tokens. The "
        "profile keeps its remembered settings, so 'deviceflow login' signs in again. Signing "
        "out of a profile nobody is signed in to succeeds and says so.",
    ),
    (
        "status",
        "sign-in, refresh and agent status",
        "Show who is signed in, when the tokens expire, the last and next refresh, the last "
        "error in plain words, and whether an agent keeps the sign-in fresh.",
    ),
    (
        "doctor",
        "check the setup, explain failures",
        "Check the settings, DNS, network and TLS, the clock, the tenant, the app registration "
        "and the sign-in; explain the first failure (cause, next step, admin steps) and exit "
        "with its code.",
    ),
    (
        "agent",
        "keep the sign-in fresh; re-link and notify when needed",
        "Stay in the foreground and keep the profile's sign-in fresh: refresh ahead of expiry "
        "and at least every --keepalive seconds; when the provider ends the sign-in, start a new "
        "device sign-in and send its code through the notifiers.",
    ),
    (
        "serve",
        "run the authorization server (see: deviceflow serve --help)",
        "Run the authorization server; its flags: deviceflow serve --help.",
    ),
    (
        "admin",
        "users, clients and device sessions of a server (deviceflow admin --help)",
        "Manage a server's users, clients and device sessions in its database; its commands: "
        "deviceflow admin --help.",
    ),
    (
        "demo",
        "embedded server + sign-in, end to end",
        "Start a development server in a temporary directory, sign in against it like 'login' "
        "does, print the user from Graph /v1.0/me, then stop the server and remove everything.",
    ),
    (
        "completion",
        "print a shell completion script (bash, zsh, fish)",
        "Print a completion script for bash, zsh or fish. Load it with, for example:\n"
        '  bash: eval "$(deviceflow completion bash)"      (in ~/.bashrc)\n'
        "  zsh:  deviceflow completion zsh > ~/.zfunc/_deviceflow   (fpath+=~/.zfunc)\n"
        "  fish: deviceflow completion fish > ~/.config/fish/completions/deviceflow.fish",
    ),
)

#: The environment variables of the CLI (``serve`` has its own: deviceflow serve --help).
ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("DEVICEFLOW_PROFILE", "the profile (--profile)"),
    ("DEVICEFLOW_CLIENT_ID", "--client-id"),
    ("DEVICEFLOW_AUTHORITY", "--authority"),
    ("DEVICEFLOW_TENANT", "--tenant"),
    ("DEVICEFLOW_ISSUER", "--issuer"),
    ("DEVICEFLOW_SCOPE", "--scope (space- or comma-separated)"),
    ("DEVICEFLOW_RESOURCE", "--resource"),
    ("DEVICEFLOW_GRAPH_URL", "--graph-url"),
    ("DEVICEFLOW_CACHE", "--cache"),
    ("DEVICEFLOW_KEYRING", "1 or true: --keyring"),
    ("DEVICEFLOW_NOTIFY_COMMAND", "agent --notify-command (also _WEBHOOK, _MQTT, _EMAIL)"),
    ("DEVICEFLOW_SMTP", "agent --smtp"),
    ("DEVICEFLOW_CLI_CONFIG", "the config file (default ~/.config/deviceflow/config.ini)"),
)


def epilog() -> str:
    """The top-level help's epilog: exit codes, settings, environment, config file."""
    import textwrap

    from deviceflow.cli.settings import CONFIG_KEYS

    variables = "\n".join(f"  {name:<27}{meaning}" for name, meaning in ENVIRONMENT)
    keys = textwrap.fill(
        "config file keys: " + ", ".join(CONFIG_KEYS), width=96, subsequent_indent="  "
    )
    return f"""\
exit codes (every command):
{exit_code_table()}

settings come from flags, then environment variables, then the config file (a [DEFAULT] section
and one section per profile), then what the profile's last login used, then the defaults.

environment (serve has its own: deviceflow serve --help):
{variables}

{keys}
  (the flags' names with _ for -; one notifier per line)

off a terminal, 'login' prints the code as 'key: value' lines (message, user_code,
verification_uri, verification_uri_complete, expires_in) for scripts; --json prints events.
"""


def _settings_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(
        "settings",
        "each defaults to the environment, the config file, then the profile's last login",
    )
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
        "--qr-invert", action="store_true", help="invert the QR code (for light backgrounds)"
    )
    parser.add_argument(
        "--qr-file",
        type=Path,
        metavar="PATH",
        help="also write the QR code to a .png or .svg file (default: none)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="give up after this many seconds (default: when the code expires)",
    )
    parser.add_argument(
        "--keyring",
        action="store_true",
        default=None,
        help="keep the tokens in the OS keyring (needs the keyring extra and a real backend)",
    )
    parser.add_argument(
        "--open",
        action="store_true",
        help="open the sign-in page in this machine's browser (default: only show the URL)",
    )
    parser.add_argument(
        "--clipboard", action="store_true", help="copy the code to the clipboard (default: no)"
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
            f"--notify-{kind}",
            action="append",
            default=[],
            metavar=metavar,
            help=f"{text} (default: none)",
        )
    notify.add_argument(
        "--smtp",
        metavar="URL",
        help="mail server, smtp[s]://[user:pw@]host:port (default smtp://localhost:25)",
    )


def _json_flag(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--json", action="store_true", help=text)


#: ``deviceflow admin``'s areas (its own parser: :mod:`deviceflow.server.admin.cli`).
ADMIN_AREAS = ("users", "clients", "sessions")


def build_parser() -> argparse.ArgumentParser:
    """The ``deviceflow`` argument parser (``serve`` is dispatched before it)."""
    from deviceflow import __version__

    parser = argparse.ArgumentParser(
        prog="deviceflow",
        description="Sign in on devices with the OAuth 2.0 device authorization grant.",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"deviceflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parent = [_settings_parent()]
    commands: dict[str, argparse.ArgumentParser] = {}
    table = f"exit codes:\n{exit_code_table()}"
    for name, text, description in COMMANDS:
        if name != "completion":  # its description keeps its own lines
            description = textwrap.fill(description, width=78)
        commands[name] = sub.add_parser(
            name,
            parents=[] if name in ("serve", "admin", "demo", "completion") else parent,
            help=text,
            description=description,
            epilog=table,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            usage=GRAPH_USAGE if name == "graph" else None,
        )

    _add_login_flags(commands["login"])
    for option, spec in TOKEN.items():
        commands["token"].add_argument(option, **spec)
    _json_flag(commands["me"], "print the raw JSON object")

    graph = commands["graph"]
    graph.add_argument(
        "method",
        nargs="?",
        type=str.upper,
        choices=GRAPH_METHODS,
        default="GET",
        metavar="METHOD",
        help=f"{', '.join(GRAPH_METHODS)} (default GET)",
    )
    graph.add_argument("path", metavar="PATH", help="the Graph path, e.g. /v1.0/me")
    graph.add_argument("--data", metavar="JSON", help="request body (default: none)")
    graph.add_argument("--all", action="store_true", help="follow @odata.nextLink pages (GET)")

    # admin is dispatched before this parser (its own: deviceflow admin --help); its areas are
    # here for --help and shell completion.
    commands["admin"].add_argument(
        "area", nargs="?", choices=ADMIN_AREAS, help="what to manage: " + ", ".join(ADMIN_AREAS)
    )

    _json_flag(commands["accounts"], "print JSON")
    commands["logout"].add_argument(
        "--all", action="store_true", help="every profile (default: only --profile)"
    )
    _json_flag(commands["status"], "print one JSON object")
    _json_flag(commands["doctor"], "print one JSON object")
    _add_agent_flags(commands["agent"])

    demo = commands["demo"]
    demo.add_argument(
        "--host",
        default="127.0.0.1",
        help="listen address (default 127.0.0.1; 0.0.0.0: reachable from the LAN)",
    )
    demo.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    demo.add_argument("--debug", action="store_true", help="show HTTP exchanges (redacted)")
    _add_login_flags(demo)

    commands["completion"].add_argument(
        "shell", choices=("bash", "zsh", "fish"), help="the shell to complete for"
    )
    return parser
