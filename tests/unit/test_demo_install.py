"""``make demo`` installs what the demo needs, not the development toolchain (issue 16, 14).

``scripts/install --demo`` installs the package with the extras named in it; those must not
pull in test, lint or browser tools (the full install measured about 800 MB, the demo's 65 MB).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.support.tools import ROOT, require_tool

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEV_TOOLS = {"pytest", "mypy", "ruff", "playwright", "hypothesis", "msal", "msgraph-sdk"}


def test_make_demo_installs_only_the_demo_extras() -> None:
    require_tool("make")
    # Under `make test` (as CI runs it) the outer make's variables make this one print
    # "Entering directory" lines; the recipe is read as a user's own `make -n demo` shows it.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert recipe[0] == "scripts/install --demo"
    script = (ROOT / "scripts" / "install").read_text()
    extras = re.search(r"--demo\)\s+extras='\.\[([a-z,]+)\]'", script)
    assert extras, "scripts/install --demo names no extras"
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = optional["optional-dependencies"]
    names = set()
    for extra in extras.group(1).split(","):
        names |= {re.split(r"[\[=<>;! ]", spec, maxsplit=1)[0] for spec in groups[extra]}
    assert "server" in extras.group(1).split(",")
    assert not names & DEV_TOOLS
    assert not any(name.startswith("deviceflow") for name in names)  # no extra of extras
