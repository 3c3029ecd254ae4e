import subprocess
import sys

import deviceflow


def test_package_version_is_a_string() -> None:
    assert deviceflow.__version__.startswith("0.")


def test_cli_unknown_command_exits_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "deviceflow", "frobnicate"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "unknown command" in proc.stderr
