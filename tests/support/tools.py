"""Helpers shared by the test suite: required external tools and loopback ports.

A test that needs an external tool (Chromium, zbarimg, node, ...) calls :func:`require_tool`.
Locally a missing tool skips the test with a hint; in CI (``CI=true``) it fails instead, so a
green CI run can never hide a skipped browser or peer test.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / ".cache" / "node" / "node_modules"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str, hint: str) -> None:
    """Skip locally, fail in CI, because ``what`` is not available."""
    message = f"{what} is not available ({hint})"
    if in_ci():
        pytest.fail(message + " - required in CI", pytrace=False)
    pytest.skip(message)


def require_tool(name: str, hint: str = "install it, or run .ci/run") -> str:
    """Return the path of executable ``name``, or skip (locally) / fail (in CI)."""
    path = shutil.which(name)
    if path is None:
        missing(name, hint)
        raise AssertionError("unreachable")  # pragma: no cover
    return path


def require_node_package(name: str) -> Path:
    """Return the folder of an npm package installed by ``scripts/node-deps``."""
    folder = NODE_MODULES / name
    if not (folder / "package.json").is_file():
        missing(f"npm package {name}", "run scripts/node-deps")
    return folder


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def chromium_executable() -> str:
    """Debian's Chromium (never a Playwright-downloaded browser)."""
    for candidate in ("/usr/lib/chromium/chromium", "/usr/bin/chromium"):
        if os.access(candidate, os.X_OK):
            return candidate
    return require_tool("chromium", "apt-get install chromium")


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright, closed at the end of the block.

    Without Chromium or Playwright: skipped locally, failed in CI (as :func:`missing` does).
    """
    executable = chromium_executable()
    try:
        from playwright import sync_api
    except ImportError:
        missing("playwright", "pip install -e '.[dev]'")
        raise AssertionError("unreachable") from None  # pragma: no cover
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
