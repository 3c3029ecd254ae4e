"""The ``deviceflow`` command line (placeholder dispatcher until the CLI issue lands)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = "usage: deviceflow {login,token,me,graph,logout,accounts,serve,demo} ..."


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "serve":
        from deviceflow.server.run import main as serve_main

        return serve_main(rest)
    if command in ("login", "token", "me", "graph", "logout", "accounts", "demo"):
        print(f"deviceflow {command}: not yet available in this version", file=sys.stderr)
        return 2
    print(f"deviceflow: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2
