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
        code = _token_fast_path(args, world, exiting=argv is None)
        if code is not None:
            return code
    from deviceflow.cli.app import run

    return run(args, world)


def _token_fast_path(args: list[str], world: World | None, *, exiting: bool) -> int | None:
    """:func:`deviceflow.cli.fastpath.run_token`, without the cyclic garbage collector's work.

    The command makes no reference cycles worth chasing, but its imports allocate enough
    objects to set off collections, and at exit CPython walks every tracked object once more:
    together a fifth of the run. So the collector is paused for the command (and switched back
    on after it: ``main`` also runs inside programs and tests), and when ``main`` runs the
    process's own command line (``exiting``), :func:`gc.freeze` moves what is alive to the
    permanent generation, which the exit walk skips. Nothing is lost: files are closed and the
    standard streams flushed as usual.
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        from deviceflow.cli.fastpath import run_token

        code = run_token(args, world)
    finally:
        if enabled:
            gc.enable()
    if code is not None and exiting:
        gc.freeze()
    return code
