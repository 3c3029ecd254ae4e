"""Run ``pytest`` the way an application's CI does: a child process in a folder of its own.

Only the installed deviceflow (and its ``pytest11`` plugin) is there; nothing of this
repository's tests is importable, and this suite's pytest settings do not apply.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -q`` in ``folder`` (the environment minus pytest's own variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
