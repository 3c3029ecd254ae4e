"""``deviceflow serve`` (placeholder until the server issue lands)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Run the server from command-line arguments; return the exit code."""
    print("deviceflow serve: not yet available in this version", file=sys.stderr)
    return 2
