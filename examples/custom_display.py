"""A custom display for ``deviceflow login --json``: a 20x4 character LCD, drawn as text.

Pipe the CLI's events into it, for example::

    deviceflow login --json | python examples/custom_display.py

Each event redraws the four lines; a real device would send them to its LCD or e-paper instead
of printing them. The user code and URL come first because that is what a person must read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

WIDTH, HEIGHT = 20, 4


def fit(lines: Iterable[str]) -> list[str]:
    """Exactly ``HEIGHT`` lines of exactly ``WIDTH`` characters."""
    out = [line[:WIDTH].ljust(WIDTH) for line in lines][:HEIGHT]
    return out + [" " * WIDTH] * (HEIGHT - len(out))


def _short_url(url: str) -> str:
    return url.split("://", 1)[-1]


def render(event: dict[str, Any]) -> list[str]:
    """The LCD lines for one ``login --json`` event."""
    kind = event.get("event")
    if kind == "code":
        minutes = int(event.get("expires_in", 0)) // 60
        return fit(
            [
                "Sign in at",
                _short_url(str(event.get("verification_uri", ""))),
                f"Code: {event.get('user_code', '')}",
                f"Expires in {minutes} min",
            ]
        )
    if kind == "pending":
        return fit(["Waiting for you", "to approve..."])
    if kind == "slow_down":
        return fit(["Waiting...", f"(every {event.get('interval')} s)"])
    if kind == "retrying":
        return fit(["Network trouble,", "retrying..."])
    if kind == "signed_in":
        return fit(["Welcome,", str(event.get("name") or event.get("username") or "")])
    if kind == "error":
        return fit(["Sign-in failed:", str(event.get("error", ""))])
    return fit([])


def run(events: TextIO, screen: TextIO) -> int:
    """Draw every event read from ``events``; return 0 after ``signed_in``, else 1."""
    result = 1
    for line in events:
        if not line.strip():
            continue
        event = json.loads(line)
        screen.write("+" + "-" * WIDTH + "+\n")
        for row in render(event):
            screen.write(f"|{row}|\n")
        screen.write("+" + "-" * WIDTH + "+\n")
        screen.flush()
        if event.get("event") == "signed_in":
            result = 0
    return result


if __name__ == "__main__":
    sys.exit(run(sys.stdin, sys.stdout))
