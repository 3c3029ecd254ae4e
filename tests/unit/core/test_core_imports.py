"""core/ stands alone: only an allow-list of standard modules that MicroPython also has."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import deviceflow.core

CORE = Path(deviceflow.core.__file__).parent
SOURCES = sorted(CORE.glob("*.py"))

# json is the only runtime import; typing is allowed only inside the guarded
# `try: from typing import TYPE_CHECKING` / `if TYPE_CHECKING:` blocks.
ALLOWED_AT_RUNTIME = {"json"}
ALLOWED_FOR_TYPING = {"typing"}


def _imports(tree: ast.AST) -> list[tuple[ast.stmt, str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node, alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node, node.module or "", node.level))
    return found


def _guarded(tree: ast.Module) -> set[int]:
    """Line numbers of imports inside `if TYPE_CHECKING:` or the `try: from typing ...` guard."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):
            if node.test.id == "TYPE_CHECKING":
                lines.update(n.lineno for n in ast.walk(node) if isinstance(n, ast.stmt))
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers
        ):
            lines.update(n.lineno for n in node.body)
    return lines


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_core_module_imports_only_allowed_modules(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = _guarded(tree)
    for node, module, level in _imports(tree):
        if level > 0:
            assert module.startswith("_") or module == "", f"{path.name}: from .{module}"
            continue
        top = module.split(".")[0]
        if top in ALLOWED_FOR_TYPING:
            assert node.lineno in guarded, f"{path.name}:{node.lineno}: unguarded typing import"
            continue
        assert top in ALLOWED_AT_RUNTIME, f"{path.name}:{node.lineno}: imports {module}"


def test_core_sources_avoid_methods_micropython_lacks() -> None:
    # MicroPython's str has no translate(), isalnum() or casefold(); slices with a step fail.
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("translate", "isalnum", "casefold"), path.name
            if isinstance(node, ast.Slice):
                assert node.step is None, f"{path.name}:{node.lineno}: slice with a step"


def test_core_allow_list_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    tree = ast.parse("import time\nfrom typing import Any\n")
    imports = _imports(tree)
    assert [m for _, m, _ in imports] == ["time", "typing"]
    assert _guarded(tree) == set()
