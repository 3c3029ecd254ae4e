"""``--help`` against itself and the README: one exit-code table, described commands, stated
defaults, the whole environment (issue 16 items 9 and 12)."""

from __future__ import annotations

import argparse
import re

import pytest

from deviceflow.cli.errors import EXIT_CODES, exit_code_table
from deviceflow.cli.parser import COMMANDS, ENVIRONMENT, GRAPH_USAGE, build_parser, epilog
from deviceflow.cli.settings import CONFIG_KEYS
from tests.support.tools import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_readme_exit_code_table_is_the_code_table() -> None:
    section = README.split("#### Exit codes", 1)[1]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, re.MULTILINE)
    assert [(int(code), meaning) for code, meaning in rows] == list(EXIT_CODES)


def test_help_prints_every_exit_code() -> None:
    text = epilog()
    for code, meaning in EXIT_CODES:
        assert re.search(rf"^  {code}\s+{re.escape(meaning)}$", text, re.MULTILINE), code


def test_readme_and_help_name_every_variable_and_config_key() -> None:
    text = epilog()
    for name, _meaning in ENVIRONMENT:
        assert name in text
        assert f"`{name}" in README, name
    for required in ("DEVICEFLOW_RESOURCE", "DEVICEFLOW_CLI_CONFIG", "DEVICEFLOW_KEYRING"):
        assert required in text and f"`{required}`" in README
    for key in CONFIG_KEYS:
        assert key in text
        assert f"`{key}`" in README, key


def test_every_command_has_a_description_and_every_option_help_and_its_default() -> None:
    found = subparsers()
    assert sorted(found) == sorted(name for name, _help, _description in COMMANDS)
    for name, sub in found.items():
        assert sub.description, name
        assert sub.epilog == f"exit codes:\n{exit_code_table()}", name
        for action in sub._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            assert action.help, (name, action.option_strings)
            if action.nargs != 0:  # takes a value: say what happens without it
                assert "default" in action.help, (name, action.option_strings)


def test_graph_usage_line_is_the_one_its_errors_print() -> None:
    graph = subparsers()["graph"]
    assert graph.format_usage() == f"usage: {GRAPH_USAGE}\n"


@pytest.mark.parametrize(
    "needle",
    [
        "`key: value`",
        "`verification_uri_complete`",
        "`DEVICEFLOW_CLI_CONFIG`",
        "deviceflow completion bash|zsh|fish",
        "`--open`",
        "`--clipboard`",
    ],
)
def test_readme_documents(needle: str) -> None:
    assert needle in README


def test_serve_help_states_the_host_default_and_explains_log_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from deviceflow.cli import main

    assert main(["serve", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "address to listen on (default 127.0.0.1" in text
    assert "{debug,info,warning,error} log records at this level and above (default info" in text
