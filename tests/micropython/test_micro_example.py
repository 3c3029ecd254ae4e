"""examples/micropython/presence_light.py runs unchanged on the Unix port against the emulator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.hardening.client.serverkit import approve_http
from tests.micropython.device import HEAP, HERE, TENANT, run_module, tool
from tests.support.serverproc import ServerProcess
from tests.support.tools import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.micropython, pytest.mark.xdist_group("micropython")]


def test_presence_light_signs_in_then_follows_presence(
    lib: Path, http_server: ServerProcess, tmp_path: Path
) -> None:
    compiler = tool("mpy-cross")
    programs = tmp_path / "programs"
    programs.mkdir()
    for source in (
        ROOT / "examples" / "micropython" / "presence_light.py",
        HERE / "mp_presence.py",
    ):
        target = programs / (source.stem + ".mpy")
        subprocess.run([compiler, "-o", str(target), str(source)], check=True)
    config = tmp_path / "presence.json"
    store = tmp_path / "token.json"
    config.write_text(
        json.dumps(
            {"base": http_server.base_url, "tenant": TENANT, "store": str(store), "updates": 2}
        ),
        encoding="utf-8",
    )
    boot = f"import sys; sys.path[:0] = [{str(programs)!r}, {str(lib)!r}]; import mp_presence"
    command = run_module(lib, "mp_presence", [str(config)], HEAP)
    command[command.index("-c") + 1] = boot
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "CONNECTED"
        shown = process.stdout.readline()
        assert shown.startswith("CODE "), shown
        assert approve_http(http_server.base_url, json.loads(shown[5:])["user_code"]) == 200
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, out + err
    assert out.splitlines() == ["LED 0 255 0", "LED 0 255 0"]  # Available: green
    assert json.loads(store.read_text(encoding="utf-8"))["refresh_token"]
