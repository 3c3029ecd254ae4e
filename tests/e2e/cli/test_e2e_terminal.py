"""The ``login`` screen in a real terminal (tmux): its QR code decodes back to the URL."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli.harness import Cli
from tests.support.serverproc import ServerProcess, e2e_server, serving
from tests.support.tools import ROOT, require_tool
from tests.unit.cli.qr_raster import text_to_modules, write_png, zbar_decode

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cli-e2e")]

BLOCKS = set("\u2580\u2584\u2588")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    folder = tmp_path / "server"
    folder.mkdir()
    with serving(e2e_server(folder)) as proc:
        yield proc


def test_login_screen_in_tmux_shows_a_decodable_qr(server: ServerProcess, tmp_path: Path) -> None:
    tmux = require_tool("tmux")
    zbarimg = require_tool("zbarimg", "apt-get install zbar-tools")
    cli = Cli(server, tmp_path)
    name = f"df-{uuid.uuid4().hex[:8]}"
    env = " ".join(
        f"{k}={shlex.quote(v)}"
        for k, v in cli.env.items()
        if k.startswith(("DEVICE", "HOME", "XDG"))
    )
    command = (
        f"cd {shlex.quote(str(ROOT))} && env LANG=C.UTF-8 LC_ALL=C.UTF-8 {env} "
        f"{shlex.quote(sys.executable)} -m deviceflow login --timeout 60"
    )
    base = [tmux, "-L", name]
    subprocess.run(
        [*base, "new-session", "-d", "-s", "t", "-x", "100", "-y", "40", command],
        check=True,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    try:
        subprocess.run([*base, "set-option", "-t", "t", "remain-on-exit", "on"], check=False)
        screen = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            screen = subprocess.run(
                [*base, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True
            ).stdout
            if "Code expires in" in screen:
                break
            time.sleep(0.2)
        assert "Code expires in" in screen, screen
    finally:
        subprocess.run([*base, "kill-server"], check=False, capture_output=True)
    lines = screen.splitlines()
    assert any(line.startswith("  Code:  ") for line in lines)
    complete = next(line for line in lines if "Or open this link" in line).split(": ", 1)[1]
    qr_lines = [line for line in lines if BLOCKS & set(line)]
    indent = min(len(line) - len(line.lstrip(" ")) for line in qr_lines)
    png = tmp_path / "pane.png"
    write_png(text_to_modules([line[indent:] for line in qr_lines]), png)
    assert zbar_decode(zbarimg, png) == complete.strip()
