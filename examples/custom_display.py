"""A custom display for ``deviceflow login --json``: a 20x4 character LCD, drawn as text.

Pipe the CLI's events into it, for example::

    deviceflow login --json | python examples/custom_display.py

Each event redraws the screen; a real device would send the lines to its LCD or e-paper instead
of printing them. The address and the code stay on screen until the sign-in ends (the person
may look up at any moment), and only the bottom line changes while the CLI polls. Nothing is
cut off: a value wider than the screen wraps (an address breaks before a ``/``), and a screen
that needs more than four lines grows (a real LCD would page or scroll them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

WIDTH, HEIGHT = 20, 4


def wrap(text: str, width: int = WIDTH) -> list[str]:
    """``text`` in lines of at most ``width`` characters, breaking before a ``/`` if one fits."""
    lines: list[str] = []
    while len(text) > width:
        cut = text.rfind("/", 1, width + 1)
        cut = cut if cut > 0 else width
        lines.append(text[:cut])
        text = text[cut:]
    return [*lines, text]


def fit(lines: Iterable[str]) -> list[str]:
    """Lines of exactly ``WIDTH`` characters (long ones wrapped), at least ``HEIGHT`` of them."""
    out = [row.ljust(WIDTH) for line in lines for row in wrap(line)]
    return out + [" " * WIDTH] * (HEIGHT - len(out))


def _short_url(url: str) -> str:
    return url.split("://", 1)[-1]


def _sign_in_lines(code: dict[str, Any], status: str) -> list[str]:
    """Where to go and what to type (both always shown), then ``status``."""
    url = _short_url(str(code.get("verification_uri", "")))
    where = ["Sign in at", url] if len(url) <= WIDTH else [url]
    return [*where, f"Code: {code.get('user_code', '')}", status]


def render(event: dict[str, Any], code: dict[str, Any] | None = None) -> list[str]:
    """The LCD lines for one ``login --json`` event; ``code`` is the latest ``code`` event,
    whose address and user code stay on screen while the sign-in is pending."""
    kind = event.get("event")
    if kind == "code":
        minutes = int(event.get("expires_in", 0)) // 60
        return fit(_sign_in_lines(event, f"Expires in {minutes} min"))
    waiting = {
        "pending": "Waiting for you...",
        "slow_down": f"Waiting, every {event.get('interval')} s",
        "retrying": "Network: retrying",
    }
    if kind in waiting:
        if code is None:  # joined mid-way: nothing to show but the state
            return fit([waiting[str(kind)]])
        return fit(_sign_in_lines(code, waiting[str(kind)]))
    if kind == "signed_in":
        return fit(["Welcome,", str(event.get("name") or event.get("username") or "")])
    if kind == "error":
        return fit(["Sign-in failed:", str(event.get("error", ""))])
    return fit([])


def run(events: TextIO, screen: TextIO) -> int:
    """Draw every event read from ``events``; return 0 after ``signed_in``, else 1."""
    result = 1
    code: dict[str, Any] | None = None
    for line in events:
        if not line.strip():
            continue
        event = json.loads(line)
        if event.get("event") == "code":
            code = event
        screen.write("+" + "-" * WIDTH + "+\n")
        for row in render(event, code):
            screen.write(f"|{row}|\n")
        screen.write("+" + "-" * WIDTH + "+\n")
        screen.flush()
        if event.get("event") == "signed_in":
            result = 0
    return result


if __name__ == "__main__":
    sys.exit(run(sys.stdin, sys.stdout))
