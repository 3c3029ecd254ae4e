"""The transition table and the diagram generated from it."""

from __future__ import annotations

import subprocess
import sys

from deviceflow.core import _state
from tests.support.tools import ROOT


def test_state_table_every_state_reaches_error_and_only_error_is_absorbing() -> None:
    for state in _state.STATES:
        assert _state.TRANSITIONS[(state, _state.FAILED)] == _state.ERROR
    targets = set(_state.TRANSITIONS.values())
    sources = {state for state, _ in _state.TRANSITIONS}
    assert targets | {_state.IDLE} == set(_state.STATES) == sources


def test_state_diagram_docs_match_the_table() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "state-diagram"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    text = (ROOT / "docs" / "core.md").read_text(encoding="utf-8")
    for (state, event), new in _state.TRANSITIONS.items():
        assert f"    {state} --> {new} : {event}\n" in text
