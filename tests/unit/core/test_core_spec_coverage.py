"""docs/spec-coverage.md (client section) names tests that exist."""

from __future__ import annotations

import re

from tests.support.tools import ROOT


def test_spec_coverage_client_section_references_existing_tests() -> None:
    text = (ROOT / "docs" / "spec-coverage.md").read_text(encoding="utf-8")
    client = text.split("## Client", 1)[1].split("\n## ", 1)[0]
    references = re.findall(r"`([\w/]+\.py)(?:::(\w+))?", client)
    checked = 0
    for path, name in references:
        if not path.rsplit("/", 1)[-1].startswith("test_"):
            continue  # a source file, not a test
        matches = [ROOT / "tests" / path] if "/" in path else list(ROOT.glob(f"tests/**/{path}"))
        assert len(matches) == 1 and matches[0].is_file(), path
        if name:
            assert f"def {name}(" in matches[0].read_text(encoding="utf-8"), f"{path}::{name}"
            checked += 1
    assert checked > 15


def test_spec_coverage_security_checklist_maps_every_item_to_existing_tests() -> None:
    text = (ROOT / "docs" / "spec-coverage.md").read_text(encoding="utf-8")
    section = text.split("## Security checklist", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([SC]\d+) \|[^|]+\| (.+) \|$", section, flags=re.M)
    expected = [f"S{n}" for n in range(1, 21)] + [f"C{n}" for n in range(1, 13)]
    assert [item for item, _ in rows] == expected
    for item, tests in rows:
        references = re.findall(r"`([\w/]+\.py)::(\w+)`", tests)
        assert references, item
        for path, name in references:
            file = ROOT / "tests" / path
            assert file.is_file(), f"{item}: {path}"
            assert f"def {name}(" in file.read_text(encoding="utf-8"), f"{item}: {path}::{name}"
