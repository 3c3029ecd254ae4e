"""The ``deviceflow`` command line.

Start-up stays light: this module imports only :mod:`sys`; each command imports what it needs,
and ``token`` skips the argument parser (:mod:`deviceflow.cli.fastpath`).
``serve`` is handed to :func:`deviceflow.server.run.main` untouched (its own flags and help).
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
    if args and args[0] == "token":  # scripts call it before every request: keep it light
        from deviceflow.cli.fastpath import run_token

        code = run_token(args, world)
        if code is not None:
            if argv is None:  # this process's own command line: it ends now
                _skip_exit_collection()
            return code
    from deviceflow.cli.app import run

    return run(args, world)


def _skip_exit_collection() -> None:
    """Spare the interpreter its last search for reference cycles, as ``deviceflow token`` exits.

    At exit CPython walks every object still tracked by the cyclic garbage collector once more:
    after the imports of ``deviceflow token`` that is a sixth of the command's run. Objects
    :func:`gc.freeze` moved to the permanent generation are left out of that walk; nothing is
    lost (files are closed and the standard streams flushed as usual, and a process that ends
    has no cycles worth freeing). Only for the process's own command line: a program or a test
    calling ``main([...])`` keeps its collector as it was.
    """
    import gc

    gc.freeze()
