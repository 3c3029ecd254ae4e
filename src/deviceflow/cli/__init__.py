"""The ``deviceflow`` command line.

Start-up stays light: this module imports only :mod:`sys`; each command imports what it needs,
and ``token`` skips the argument parser (:mod:`deviceflow.cli.fastpath`).
``serve`` is handed to :func:`deviceflow.server.run.main` untouched (its own flags and help),
``admin`` to :func:`deviceflow.server.admin.cli.main`.
"""

from __future__ import annotations

import sys

# ``typing.TYPE_CHECKING`` without importing typing (``deviceflow token`` loads this module);
# type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from deviceflow.cli.context import World

__all__ = ["main"]

SERVER_HINT = "deviceflow serve needs the server extra: pip install 'deviceflow[server]'"


def main(argv: Sequence[str] | None = None, *, world: World | None = None) -> int:
    """Run the CLI and return its exit code.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        world: streams, environment, clocks and transport (default: the real ones).

    Returns:
        The exit code (see ``deviceflow --help``); it never raises.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "serve":
        try:
            from deviceflow.server.run import main as serve_main
        except ImportError:
            print(f"deviceflow: {SERVER_HINT}", file=sys.stderr)
            return 2
        return serve_main(args[1:])
    if args and args[0] == "admin":
        try:
            from deviceflow.server.admin.cli import main as admin_main
        except ImportError:
            print(f"deviceflow: {SERVER_HINT.replace('serve', 'admin')}", file=sys.stderr)
            return 2
        return admin_main(args[1:])
    if args and args[0] == "token":  # scripts call it before every request: keep it light
        from deviceflow.cli.fastpath import run_token

        code = run_token(args, world)
        if code is not None:
            return code
    from deviceflow.cli.app import run

    return run(args, world)
