"""The examples for real: ``deviceflow login --json | python examples/custom_display.py`` against
a real ``deviceflow serve``, the person reading the code off the "LCD" and approving it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.e2e.cli.harness import Cli
from tests.support.pages import approve_over_http
from tests.support.serverproc import PASSWORD, USERNAME, ServerProcess, e2e_server, serving
from tests.support.tools import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("examples-live")]

EXAMPLES = ROOT / "examples"
BORDER = "+" + "-" * 20 + "+"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with serving(e2e_server(tmp_path_factory.mktemp("examples-server"))) as proc:
        yield proc


def next_frame(screen: IO[str]) -> list[str]:
    """The rows of the next screen the display draws (between two borders)."""
    line = screen.readline()
    assert line.rstrip("\n") == BORDER, f"not a frame: {line!r}"
    rows: list[str] = []
    while (line := screen.readline().rstrip("\n")) != BORDER:
        assert line.startswith("|") and line.endswith("|") and len(line) == 22, line
        rows.append(line[1:-1].rstrip())
    return rows


def test_custom_display_shows_the_address_and_code_until_signed_in(
    server: ServerProcess, tmp_path: Path
) -> None:
    cli = Cli(server, tmp_path)
    login = subprocess.Popen(
        cli.command("login", "--json", "--timeout", "60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=cli.env,
        cwd=ROOT,
    )
    assert login.stdout is not None
    display = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "custom_display.py")],
        stdin=login.stdout,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    login.stdout.close()  # the display owns the pipe now
    assert display.stdout is not None
    try:
        first = next_frame(display.stdout)
        address = f"{server.base_url}/devicelogin".split("://", 1)[1]
        assert len(address) > 20
        code_row = next(row for row in first if row.startswith("Code: "))
        user_code = code_row.removeprefix("Code: ")
        where = first[: first.index(code_row)]
        assert "".join(where) == address  # wrapped, not cut
        assert first[-1].startswith("Expires in")
        # Polls go on: every later screen still shows where to go and what to type.
        for _ in range(2):
            frame = next_frame(display.stdout)
            assert frame == [*where, code_row, "Waiting for you..."], frame
        decided = approve_over_http(
            server.base_url, user_code, username=USERNAME, password=PASSWORD
        )
        assert decided.status_code == 200, decided.text
        frames = [next_frame(display.stdout)]
        while frames[-1][0] != "Welcome,":
            assert frames[-1][: len(where) + 1] == [*where, code_row], frames[-1]
            frames.append(next_frame(display.stdout))
        assert frames[-1][1] == "Erin Example"
        assert display.wait(30) == 0
        assert login.wait(30) == 0
    finally:
        for proc in (login, display):
            if proc.poll() is None:  # pragma: no cover - only on failure
                proc.kill()
                proc.wait()
        display.stdout.close()
