"""The test suite's own layout: every folder of Python files under tests/ is a package.

Without ``__init__.py`` pytest imports a folder's modules by their bare names (two
``test_async_poll.py`` in different folders would clash) and ruff sorts their ``tests.``
imports as third-party.
"""

from __future__ import annotations

from tests.support.tools import ROOT


def test_every_test_folder_with_python_files_is_a_package() -> None:
    tests = ROOT / "tests"
    folders = {path.parent for path in tests.rglob("*.py") if "node_modules" not in path.parts}
    assert tests in folders
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file())
    assert missing == []
