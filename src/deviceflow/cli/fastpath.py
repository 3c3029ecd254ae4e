"""``deviceflow token`` without building the whole argument parser.

Scripts call ``deviceflow token`` before every request, so its start-up is most of its cost.
This module reads the ``token`` command's few flags itself and then does exactly what the full
command does (:func:`deviceflow.cli.commands.token`: same settings, same cache, same
:class:`~deviceflow.cli.tokens.TokenManager`, same error handling). A valid cached token then
costs the settings, the cache and ``json``: no argparse, no client, no transport, no TLS (the
transport is made only if a refresh is needed).

Anything it does not recognise exactly (``--help``, an abbreviated or unknown flag, a missing or
dash-leading value, a positional argument) returns ``None``, and the caller runs the full
argparse path, which produces the usual help or usage error.
"""

from __future__ import annotations

# ``typing.TYPE_CHECKING`` without importing typing (``deviceflow token`` loads this module);
# type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from deviceflow.cli.context import World

__all__ = ["parse_token_flags", "run_token"]

# The ``token`` command's flags (see ``app.build_parser``): option -> argparse destination.
_VALUED = {
    "--profile": "profile",
    "--cache": "cache",
    "--client-id": "client_id",
    "--authority": "authority",
    "--tenant": "tenant",
    "--issuer": "issuer",
    "--resource": "resource",
    "--graph-url": "graph_url",
    "--min-validity": "min_validity",
}
_REPEATED = {"--scope": "scope"}
_SWITCHES = {"--debug": "debug"}


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
    flags: dict[str, object] = {name: None for name in _VALUED.values()}
    flags.update(command="token", scope=[], debug=False, min_validity=60.0)
    words = list(argv[1:])
    while words:
        word = words.pop(0)
        name, eq, value = word.partition("=")
        if name in _SWITCHES and not eq:
            flags[_SWITCHES[name]] = True
            continue
        if name not in _VALUED and name not in _REPEATED:
            return None  # help, positional, abbreviation, unknown: argparse's business
        if not eq:
            if not words or words[0].startswith("-"):
                return None
            value = words.pop(0)
        if name in _REPEATED:
            scopes = flags[_REPEATED[name]]
            assert isinstance(scopes, list)
            scopes.append(value)
        elif name == "--min-validity":
            try:
                flags["min_validity"] = float(value)
            except ValueError:
                return None
        else:
            flags[_VALUED[name]] = value
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
    from deviceflow.cli.tokens import manager_for

    real_world = world or World()

    def body() -> int:
        ctx = context_from_flags(flags, real_world)
        scopes = tuple(ctx.settings.scopes) if flags["scope"] else ()
        min_validity = flags["min_validity"]
        assert isinstance(min_validity, float)
        ctx.out(manager_for(ctx).access_token(scopes, min_validity=min_validity))
        return 0

    return run_guarded(body, stderr=real_world.stderr)
