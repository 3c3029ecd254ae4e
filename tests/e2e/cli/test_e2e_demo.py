"""``deviceflow demo``: the embedded server and a sign-in, approved in Chromium.

The demo runs in-process (in a worker thread, so that its code is measured) while the main
thread plays the person in Chromium.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deviceflow.cli import main
from deviceflow.cli.context import World
from tests.e2e.cli.harness import approve
from tests.support.tools import chromium_browser

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cli-e2e")]


class LockedStream(io.StringIO):
    """A StringIO that two threads may use."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            return super().write(text)

    def snapshot(self) -> str:
        with self.lock:
            return self.getvalue()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as chromium:
        yield chromium


def test_demo_signs_in_against_embedded_server(browser: Any, tmp_path: Path) -> None:
    out, err = LockedStream(), LockedStream()
    world = World(stdout=out, stderr=err, environ={}, home=tmp_path)
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(main(["demo"], world=world)))
    worker.start()
    url = None
    deadline = time.monotonic() + 90
    while url is None and time.monotonic() < deadline and worker.is_alive():
        for line in out.snapshot().splitlines():
            if line.startswith("verification_uri_complete: "):
                url = line.split(": ", 1)[1]
        time.sleep(0.1)
    assert url is not None, out.snapshot() + err.snapshot()
    text = out.snapshot()
    assert "deviceflow demo: a development server is running at http://127.0.0.1:" in text
    assert "demo user: adele   password: adele-password" in text
    approve(browser, url, username="adele", password="adele-password")
    worker.join(90)
    assert result == [0], err.snapshot()
    text = out.snapshot()
    assert "Signed in as " in text
    assert "/v1.0/me says: Adele Vance" in text
    assert 'curl -H "Authorization: Bearer $(deviceflow token)"' in text
    assert text.rstrip().endswith("The demo server has stopped.")
