"""``login --open`` and ``login --clipboard``: hand the code to the person on this machine.

Both are conveniences on top of the panel, which always shows the URL and the code: when they
cannot work (no display, no browser, no clipboard tool) they say why in one line and the sign-in
goes on. Neither ever fails the sign-in.

- ``--open`` opens the sign-in page with :mod:`webbrowser` (the link that carries the code when
  the server sends one). A machine without a display (an SSH session, a Raspberry Pi without a
  desktop) has no browser to open; a text-mode browser would take the terminal the countdown
  needs, so only a graphical one (or the one ``BROWSER`` names) is used.
- ``--clipboard`` pipes the code to the first clipboard tool found on ``PATH``: ``pbcopy``
  (macOS), ``wl-copy`` (Wayland), ``xclip`` or ``xsel`` (X11), ``clip.exe`` (Windows, WSL).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping

__all__ = ["CLIPBOARD_TOOLS", "copy_to_clipboard", "open_browser"]

#: ``(program, arguments, needs)``: ``needs`` names the variable that must be set (a display).
CLIPBOARD_TOOLS: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("pbcopy", (), None),
    ("wl-copy", (), "WAYLAND_DISPLAY"),
    ("xclip", ("-selection", "clipboard"), "DISPLAY"),
    ("xsel", ("--clipboard", "--input"), "DISPLAY"),
    ("clip.exe", (), None),
)

_TIMEOUT = 5.0


def _has_display(environ: Mapping[str, str], platform: str) -> bool:
    if platform.startswith(("win", "cygwin", "darwin")):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def open_browser(url: str, environ: Mapping[str, str], *, platform: str = sys.platform) -> str:
    """Open ``url`` in this machine's browser; a sentence saying what happened.

    Raises:
        Nothing: a failure is the sentence.
    """
    import webbrowser

    chosen = bool(environ.get("BROWSER"))
    if not chosen and not _has_display(environ, platform):
        return "No browser here (no display): open the URL on your phone or another computer."
    try:
        browser = webbrowser.get()
        if not chosen and type(browser) is webbrowser.GenericBrowser:  # a text-mode browser
            return "No graphical browser found: open the URL on your phone or another computer."
        opened = browser.open(url)
    except (webbrowser.Error, OSError) as exc:
        return f"Could not open a browser ({exc}): open the URL yourself."
    if not opened:
        return "The browser did not start: open the URL yourself."
    return "Opened the sign-in page in your browser."


def copy_to_clipboard(text: str, environ: Mapping[str, str]) -> str:
    """Copy ``text`` with the first clipboard tool that fits; a sentence saying what happened.

    Raises:
        Nothing: a failure is the sentence.
    """
    path = environ.get("PATH", "")
    for program, arguments, needs in CLIPBOARD_TOOLS:
        found = shutil.which(program, path=path)
        if found is None or (needs is not None and not environ.get(needs)):
            continue
        try:
            # The X11 and Wayland tools stay behind to serve the selection: never wait on their
            # output streams (they would keep them open), only on their exit.
            done = subprocess.run(
                [found, *arguments],
                input=text.encode(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=_TIMEOUT,
                check=False,
                env=dict(environ),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"Could not copy the code with {program} ({exc})."
        if done.returncode != 0:
            return f"Could not copy the code: {program} exited with {done.returncode}."
        return f"Copied the code to the clipboard ({program})."
    names = ", ".join(program for program, _args, _needs in CLIPBOARD_TOOLS)
    return f"Could not copy the code: no clipboard tool here (looked for {names})."
