"""docs/testing.md's complete examples, run as their readers would: each test file the page
shows is written to a fresh folder and run by ``pytest`` with only the installed plugin."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.tools import ROOT
from tests.support.userland import run_pytest

PAGE = ROOT / "docs" / "testing.md"
EXAMPLE = re.compile(r"```python\n# (test_\w+\.py)\n(.*?)```", re.DOTALL)


def examples() -> dict[str, str]:
    return {name: code for name, code in EXAMPLE.findall(PAGE.read_text())}


def test_the_page_shows_the_three_apps() -> None:
    assert sorted(examples()) == [
        "test_azure_identity_app.py",
        "test_deviceflow_app.py",
        "test_msal_app.py",
    ]


def test_every_example_passes(tmp_path: Path) -> None:
    found = examples()
    for name, code in found.items():
        (tmp_path / name).write_text(code)
    tests = sum(code.count("\ndef test_") for code in found.values())
    result = run_pytest(tmp_path, "-W", "error::pytest.PytestUnraisableExceptionWarning")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{tests} passed" in result.stdout
