"""The CLI end-to-end harness: ``deviceflow`` subprocesses against ``deviceflow serve``.

The server runs with ``tests.support.serverproc`` (its test configuration: tenant ``contoso``
with user ``erin``); the person is played by Chromium.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from tests.support.serverproc import CLIENT_ID, PASSWORD, USERNAME, ServerProcess
from tests.support.tools import ROOT

__all__ = ["CLIENT_ID", "PASSWORD", "USERNAME", "Cli", "approve", "read_event"]


class Cli:
    """Runs ``python -m deviceflow`` with a private cache and the server's settings."""

    def __init__(self, server: ServerProcess, folder: Path, tenant: str = "contoso") -> None:
        self.server = server
        self.cache = folder / "cache"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DEVICEFLOW_")},
            "PYTHONUNBUFFERED": "1",
            "HOME": str(folder),
            "XDG_CONFIG_HOME": str(folder / "config"),
            "DEVICEFLOW_CACHE": str(self.cache),
            "DEVICEFLOW_CLIENT_ID": CLIENT_ID,
            "DEVICEFLOW_AUTHORITY": f"{server.base_url}/{tenant}",
            "DEVICEFLOW_GRAPH_URL": server.base_url,
            "DEVICEFLOW_SCOPE": "openid profile offline_access User.Read",
        }

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "deviceflow", *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=timeout,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=ROOT,
        )


def read_event(stream: IO[str], timeout: float = 30) -> dict[str, Any]:
    """The next JSON event line from a ``login --json`` process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if line.strip():
            event: dict[str, Any] = json.loads(line)
            return event
    raise AssertionError("no event")


def approve(
    browser: Any,
    url: str,
    *,
    deny: bool = False,
    username: str = USERNAME,
    password: str = PASSWORD,
) -> None:
    """Open ``url`` (the complete verification URI) in Chromium, sign in, approve or deny."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        if page.get_by_label("Code").count() and not page.get_by_label("Username").count():
            page.get_by_role("button", name="Next").click()
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Deny" if deny else "Approve").click()
        page.wait_for_load_state()
    finally:
        context.close()


def lines(text: str) -> Sequence[str]:
    return [line for line in text.splitlines() if line.strip()]
