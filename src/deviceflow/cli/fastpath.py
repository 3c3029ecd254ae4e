"""``deviceflow token`` without building the whole argument parser.

Scripts call ``deviceflow token`` before every request, so its start-up is most of its cost.
This module reads the ``token`` command's few flags itself, from the table argparse is built
from (:mod:`deviceflow.cli.flags`, so the two cannot drift), and then runs the same code as the
full command (:func:`deviceflow.cli.tokens.print_token`: same settings, same cache, same error
handling). A valid cached token then costs the settings and the cache: no argparse, no client, no
transport, no TLS (the transport is made only if a refresh is needed), and no ``json`` (the cache
and state files are read by :mod:`deviceflow._jsonread`, with the C scanner ``json`` itself uses).

Anything it does not recognise exactly (``--help``, an abbreviated or unknown flag, a missing or
dash-leading value, a positional argument) returns ``None``, and the caller runs the full
argparse path, which produces the usual help or usage error.
"""

from __future__ import annotations

from deviceflow.cli.flags import SETTINGS, TOKEN, defaults, destination

# ``typing.TYPE_CHECKING`` without importing typing (``deviceflow token`` loads this module);
# type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from deviceflow.cli.context import World

__all__ = ["parse_token_flags", "run_token"]


def parse_token_flags(argv: Sequence[str]) -> dict[str, object] | None:
    """The flags of ``token ...`` as argparse would store them, or None to let argparse decide.

    Args:
        argv: the command line after the program name; ``argv[0]`` is ``"token"``.

    Returns:
        Values by argparse destination (defaults included), or None when ``argv`` holds
        anything but the ``token`` command's own flags spelled out in full.
    """
    if not argv or argv[0] != "token":
        return None
    table = {**SETTINGS, **TOKEN}
    flags = defaults(SETTINGS, TOKEN)
    flags["command"] = "token"
    words = list(argv[1:])
    while words:
        option, eq, value = words.pop(0).partition("=")
        spec = table.get(option)
        if spec is None:
            return None  # help, positional, abbreviation, unknown: argparse's business
        dest, action = destination(option, spec), spec.get("action")
        if action == "store_true":
            if eq:
                return None
            flags[dest] = True
            continue
        if not eq:
            if not words or words[0].startswith("-"):
                return None
            value = words.pop(0)
        if action == "append":
            values = flags[dest]
            assert isinstance(values, list)
            values.append(value)
            continue
        convert = spec.get("type")
        try:
            flags[dest] = value if convert is None else convert(value)
        except ValueError:
            return None
    return flags


def run_token(argv: Sequence[str], world: World | None = None) -> int | None:
    """Run ``deviceflow token`` if :func:`parse_token_flags` understands ``argv``.

    Returns:
        The exit code, or None when the full command line parser must handle ``argv``.
    """
    flags = parse_token_flags(argv)
    if flags is None:
        return None
    from deviceflow.cli.context import World, context_from_flags
    from deviceflow.cli.errors import run_guarded
    from deviceflow.cli.tokens import print_token

    real_world = world or World()
    return run_guarded(
        lambda: print_token(context_from_flags(flags, real_world), flags),
        stderr=real_world.stderr,
    )
