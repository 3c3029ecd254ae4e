"""The example systemd unit of the server (``examples/systemd/deviceflow-server.service``) is
valid, and its ``ExecStart`` is a command line ``deviceflow serve`` accepts."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path

from deviceflow.server import run
from tests.support.tools import ROOT, require_tool

UNIT = ROOT / "examples" / "systemd" / "deviceflow-server.service"


def test_server_unit_verifies_and_stops_with_room_for_the_drain(tmp_path: Path) -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    service = parser["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[:3] == ["/usr/bin/env", "deviceflow", "serve"]
    args = run._parser().parse_args(argv[3:])
    assert args.log_format == "json" and args.drain > 0 and args.metrics_address
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > args.drain + 5  # the drain, then in-flight requests
    analyze = require_tool("systemd-analyze", "apt-get install systemd")
    done = subprocess.run(
        [analyze, "verify", str(UNIT)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert UNIT.name not in done.stderr
