"""``deviceflow demo``'s closing hint works as printed: it says how to put ``deviceflow`` on PATH.

``make demo`` runs ``.venv/bin/deviceflow demo`` from a shell whose PATH lacks ``.venv/bin``;
the hint ``$(deviceflow token)`` would then fail with "command not found".
"""

from __future__ import annotations

import shlex
import subprocess
import sysconfig
from pathlib import Path

from deviceflow.cli.demo import path_hint

SCRIPTS = Path(sysconfig.get_path("scripts"))


def test_path_hint_activates_the_venv_when_deviceflow_is_not_on_path() -> None:
    hint = path_hint({"PATH": "/usr/bin:/bin"})
    assert hint == f". {shlex.quote(str(SCRIPTS / 'activate'))}"
    # Run as printed, in a shell with that PATH: deviceflow is found (token: 3, sign-in needed).
    shell = subprocess.run(
        ["bash", "-c", f"{hint} && command -v deviceflow"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    assert shell.returncode == 0, shell.stderr
    assert Path(shell.stdout.strip()) == SCRIPTS / "deviceflow"


def test_path_hint_is_silent_when_deviceflow_already_runs_this_install() -> None:
    assert path_hint({"PATH": f"/usr/bin:{SCRIPTS}"}) is None


def test_path_hint_without_a_venv_exports_path(tmp_path: Path) -> None:
    (tmp_path / "deviceflow").write_text("#!/bin/sh\n")
    assert path_hint({"PATH": "/usr/bin"}, str(tmp_path)) == f'export PATH={tmp_path}:"$PATH"'
