"""The core's cases under MicroPython (WebAssembly on Node) and, as a cross-check, CPython."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
from pathlib import Path

import pytest

from tests.support.tools import require_node_package, require_tool

HERE = Path(__file__).resolve().parent
CASES = HERE / "mp_core_cases.py"


def _expected_count() -> int:
    tree = ast.parse(CASES.read_text(encoding="utf-8"))
    return sum(
        1
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    )


@pytest.mark.micropython
def test_micropython_core_cases_all_pass() -> None:
    node = require_tool("node", "install Node.js, or run .ci/run")
    require_node_package("@micropython/micropython-webassembly-pyscript")
    proc = subprocess.run(
        [node, str(HERE / "run_core.mjs")], capture_output=True, text=True, timeout=180
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "MicroPython (1, 27" in proc.stdout
    count = _expected_count()
    assert count >= 20
    assert f"CORE-CASES passed={count} failed=0" in proc.stdout, output[-4000:]


def test_micropython_cases_also_pass_on_cpython(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("mp_core_cases", CASES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    passed, failed = module.main()
    assert (passed, failed) == (_expected_count(), 0), capsys.readouterr().out
