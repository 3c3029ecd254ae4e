"""Figures the hardening suite measures, for ``docs/reliability.md``.

A hardening test calls :func:`record` with what it did and what happened (faults injected,
SIGKILLs survived, guesses refused, fuzz cases run, ...). When ``DEVICEFLOW_FIGURES_DIR`` is set
(``scripts/reliability`` sets it), each call appends one JSON line to a file of that folder; in an
ordinary test run it does nothing. ``scripts/reliability`` runs the suite and renders the table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV = "DEVICEFLOW_FIGURES_DIR"


def record(area: str, name: str, **counts: int | float | str) -> None:
    """Record one measured figure.

    Args:
        area: the table the figure belongs to ("client faults", "cache crashes", ...).
        name: what was exercised, one row of that table.
        **counts: the numbers (``injected=120, survived=120``), in display order.
    """
    folder = os.environ.get(ENV)
    if not folder:
        return
    path = Path(folder) / f"figures-{os.getpid()}.jsonl"
    line = json.dumps({"area": area, "name": name, "counts": counts})
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
