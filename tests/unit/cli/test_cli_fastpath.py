"""``deviceflow token``'s fast path reads the same flags as argparse, from the same table."""

from __future__ import annotations

import argparse

import pytest

from deviceflow.cli.app import build_parser
from deviceflow.cli.fastpath import parse_token_flags
from deviceflow.cli.flags import SETTINGS, TOKEN
from deviceflow.core import REFRESH_MARGIN


def _token_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    token = sub.choices["token"]
    assert isinstance(token, argparse.ArgumentParser)
    return token


def test_fastpath_table_is_every_flag_of_the_token_command() -> None:
    options = {o for action in _token_parser()._actions for o in action.option_strings}
    assert options - {"-h", "--help"} == set(SETTINGS) | set(TOKEN)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["token"], id="plain"),
        pytest.param(["token", "--min-validity", "30", "--profile=work"], id="valued"),
        pytest.param(["token", "--scope", "a", "--scope=b", "--debug"], id="repeated-switch"),
        pytest.param(
            ["token", "--client-id", "c", "--tenant", "t", "--graph-url", "https://g"], id="dests"
        ),
        pytest.param(
            ["token", "--cache", "d", "--authority=https://a", "--issuer", "https://i"],
            id="urls",
        ),
        pytest.param(["token", "--resource", "r", "--min-validity=1.5"], id="float"),
    ],
)
def test_fastpath_stores_what_argparse_stores(argv: list[str]) -> None:
    assert parse_token_flags(argv) == vars(build_parser().parse_args(argv))


def test_fastpath_default_min_validity_is_the_cores_refresh_margin() -> None:
    flags = parse_token_flags(["token"])
    assert flags is not None and flags["min_validity"] == REFRESH_MARGIN == 60.0


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["token", "--help"], id="help"),
        pytest.param(["token", "--prof", "x"], id="abbreviation"),
        pytest.param(["token", "--scope"], id="missing-value"),
        pytest.param(["token", "--scope", "--debug"], id="dash-value"),
        pytest.param(["token", "--debug=yes"], id="switch-with-value"),
        pytest.param(["token", "--min-validity", "soon"], id="not-a-number"),
        pytest.param(["token", "extra"], id="positional"),
        pytest.param(["login"], id="other-command"),
    ],
)
def test_fastpath_leaves_anything_else_to_argparse(argv: list[str]) -> None:
    assert parse_token_flags(argv) is None
