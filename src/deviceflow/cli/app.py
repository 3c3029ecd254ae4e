"""Argument parsing and dispatch for every command except ``serve``."""

from __future__ import annotations

import argparse
import contextlib
import difflib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from deviceflow.cli.context import Context, World, context_from_flags
from deviceflow.cli.errors import EXIT_USAGE, run_guarded
from deviceflow.cli.parser import COMMANDS, build_parser

if TYPE_CHECKING:
    from deviceflow.cli.login import LoginOptions

__all__ = ["NAMES", "build_parser", "did_you_mean", "run"]

#: Every command name.
NAMES = tuple(name for name, _help, _description in COMMANDS)


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


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, or ``""``."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unrecognized(
    parser: argparse.ArgumentParser, command: str, extras: Sequence[str], world: World
) -> None:
    """argparse's "unrecognized arguments" error, with a "did you mean" for mistyped flags."""
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = action.choices[command]
    options = [name for a in sub._actions for name in a.option_strings if name.startswith("--")]
    words = []
    for word in extras:
        hint = did_you_mean(word.split("=", 1)[0], options) if word.startswith("--") else ""
        words.append(f"{word}{hint}")
    sub.print_usage(world.stderr)
    print(
        f"deviceflow {command}: error: unrecognized arguments: {' '.join(words)}", file=world.stderr
    )


def run(argv: Sequence[str], world: World | None = None) -> int:
    """Parse ``argv``, run the command, and return the exit code (never raises)."""
    world = world or World()
    if argv and not argv[0].startswith("-") and argv[0] not in NAMES:
        print(
            f"deviceflow: unknown command {argv[0]!r}{did_you_mean(argv[0], NAMES)}"
            f"\ncommands: {', '.join(NAMES)} (deviceflow --help)",
            file=world.stderr,
        )
        return EXIT_USAGE
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(world.stdout), contextlib.redirect_stderr(world.stderr):
            args, extras = parser.parse_known_args(list(argv))
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else EXIT_USAGE
    if extras:
        _unrecognized(parser, args.command, extras, world)
        return EXIT_USAGE

    def body() -> int:
        if args.command == "completion":  # needs no settings (a broken config file is no matter)
            from deviceflow.cli.completion import script

            world.stdout.write(script(args.shell, parser))
            return 0
        ctx = context_from_flags(vars(args), world)
        try:
            return _dispatch(args.command)(ctx, args)
        except Exception as exc:
            from deviceflow.cli.hints import next_step

            better = next_step(ctx, exc, args.command)
            if better is None:
                raise
            raise better from exc

    return run_guarded(body, stderr=world.stderr)
