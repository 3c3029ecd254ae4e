"""``deviceflow completion bash|zsh|fish``: completion scripts generated from the parser.

The scripts are written from the argument parser itself (:func:`commands_of` walks it), so a new
command or flag completes without touching this module: commands after ``deviceflow``, each
command's flags after it, the choices of a flag or positional (``graph``'s METHOD), and file
names after flags that take a path (``--qr-file``, ``--cache``). ``serve`` and ``admin`` have
their own parsers (dispatched before this one): ``serve``'s name completes, and ``admin``'s
areas (``users``, ``clients``, ``sessions``).
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Command", "Option", "commands_of", "script"]

_PATH_METAVARS = frozenset({"PATH", "DIR", "FILE"})


@dataclass(frozen=True)
class Option:
    """One flag of a command, as completion needs it."""

    names: tuple[str, ...]
    help: str
    takes_value: bool
    is_path: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    """One command: its name, help, flags and the choices of its positionals."""

    name: str
    help: str
    options: tuple[Option, ...] = ()
    positional_choices: tuple[str, ...] = field(default=())


def _help(action: argparse.Action) -> str:
    text = action.help if isinstance(action.help, str) and action.help != argparse.SUPPRESS else ""
    return re.sub(r"\s*\((default|see)\b[^)]*\)", "", text).strip()


def _option(action: argparse.Action) -> Option:
    takes_value = action.nargs != 0
    is_path = action.type is Path or (
        isinstance(action.metavar, str) and action.metavar in _PATH_METAVARS
    )
    choices = tuple(str(c) for c in action.choices) if action.choices else ()
    return Option(tuple(action.option_strings), _help(action), takes_value, is_path, choices)


def commands_of(parser: argparse.ArgumentParser) -> list[Command]:
    """Every command of ``parser`` (one with subcommands), with its flags and positional choices."""
    found: list[Command] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: _help(choice) for choice in action._choices_actions}
        for name, sub in action.choices.items():
            options = tuple(_option(a) for a in sub._actions if a.option_strings)
            positional = tuple(
                str(c)
                for a in sub._actions
                if not a.option_strings and a.choices
                for c in a.choices
            )
            found.append(Command(name, helps.get(name, ""), options, positional))
    return found


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (``bash``, ``zsh`` or ``fish``).

    Raises:
        ValueError: an unknown shell.
    """
    commands = commands_of(parser)
    if shell == "bash":
        return _bash(commands)
    if shell == "zsh":
        return _zsh(commands)
    if shell == "fish":
        return _fish(commands)
    raise ValueError(f"no completion for {shell!r}")


# -- bash -------------------------------------------------------------------------------------


def _bash(commands: list[Command]) -> str:
    names = " ".join(c.name for c in commands)
    cases = []
    for command in commands:
        flags = " ".join(name for option in command.options for name in option.names)
        values = []
        for option in command.options:
            if not option.takes_value:
                continue
            pattern = "|".join(option.names)
            if option.choices:
                reply = f'compgen -W {shlex.quote(" ".join(option.choices))} -- "$cur"'
                values.append(f"            {pattern}) COMPREPLY=($({reply})); return ;;")
            elif option.is_path:
                values.append(
                    f'            {pattern}) COMPREPLY=($(compgen -f -- "$cur")); return ;;'
                )
            else:
                values.append(f"            {pattern}) COMPREPLY=(); return ;;")
        value_case = "\n".join(values)
        # Flags once a dash is typed (or when the command takes no words), else its choices.
        choices = " ".join(command.positional_choices) or flags
        cases.append(
            f"""        {command.name})
            case "$prev" in
{value_case or "            --) ;;"}
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W {shlex.quote(flags)} -- "$cur"))
            else
                COMPREPLY=($(compgen -W {shlex.quote(choices)} -- "$cur"))
            fi
            ;;"""
        )
    body = "\n".join(cases)
    return f"""# bash completion for deviceflow (deviceflow completion bash)
_deviceflow() {{
    local cur prev command i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    command=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            -*) ;;
            *) command="${{COMP_WORDS[i]}}"; break ;;
        esac
    done
    if [[ -z "$command" ]]; then
        COMPREPLY=($(compgen -W {shlex.quote(names + " --help --version")} -- "$cur"))
        return
    fi
    case "$command" in
{body}
        *) COMPREPLY=() ;;
    esac
}}
complete -o default -F _deviceflow deviceflow
"""


# -- zsh --------------------------------------------------------------------------------------


def _zsh_text(text: str) -> str:
    """``text`` for a single-quoted ``_arguments`` spec: no brackets or colons, quotes escaped."""
    for char in "[]:":
        text = text.replace(char, " ")
    return text.replace("'", "'\\''")


def _zsh_spec(option: Option) -> str:
    names = option.names
    label = _zsh_text(option.help)
    if len(names) > 1:
        head = "'(" + " ".join(names) + ")'{" + ",".join(names) + "}'"
    else:
        head = "'" + names[0]
    if not option.takes_value:
        return f"{head}[{label}]'"
    if option.choices:
        action = "(" + " ".join(option.choices) + ")"
    elif option.is_path:
        action = "_files"
    else:
        action = " "
    return f"{head}[{label}]:value:{action}'"


def _zsh(commands: list[Command]) -> str:
    described = "\n".join(f"        '{c.name}:{_zsh_text(c.help)}'" for c in commands)
    cases = []
    for command in commands:
        specs = [_zsh_spec(option) for option in command.options]
        if command.positional_choices:
            specs.append(f"'*:argument:({' '.join(command.positional_choices)})'")
        else:
            specs.append("'*::argument:_files'")
        joined = " \\\n                ".join(specs)
        cases.append(f"        {command.name})\n            _arguments -s {joined}\n            ;;")
    body = "\n".join(cases)
    return f"""#compdef deviceflow
# zsh completion for deviceflow (deviceflow completion zsh)
_deviceflow() {{
    local -a commands
    commands=(
{described}
    )
    if (( CURRENT == 2 )); then
        _describe -t commands 'deviceflow command' commands
        return
    fi
    local command=$words[2]
    shift words
    (( CURRENT-- ))
    case $command in
{body}
    esac
}}
_deviceflow "$@"
"""


# -- fish -------------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(commands: list[Command]) -> str:
    names = " ".join(c.name for c in commands)
    lines = [
        "# fish completion for deviceflow (deviceflow completion fish)",
        "complete -c deviceflow -f",
        f"complete -c deviceflow -n {_fish_quote('not __fish_seen_subcommand_from ' + names)}"
        " -l help -d 'show help'",
    ]
    for command in commands:
        lines.append(
            f"complete -c deviceflow -n {_fish_quote('not __fish_seen_subcommand_from ' + names)}"
            f" -a {command.name} -d {_fish_quote(command.help)}"
        )
    for command in commands:
        when = _fish_quote(f"__fish_seen_subcommand_from {command.name}")
        for option in command.options:
            parts = [f"complete -c deviceflow -n {when}"]
            for name in option.names:
                parts.append(f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}")
            if option.takes_value:
                parts.append("-r")
                if option.choices:
                    parts.append(f"-a {_fish_quote(' '.join(option.choices))}")
                elif option.is_path:
                    parts.append("-F")
            parts.append(f"-d {_fish_quote(option.help)}")
            lines.append(" ".join(parts))
        if command.positional_choices:
            choices = _fish_quote(" ".join(command.positional_choices))
            lines.append(f"complete -c deviceflow -n {when} -a {choices}")
    return "\n".join(lines) + "\n"
