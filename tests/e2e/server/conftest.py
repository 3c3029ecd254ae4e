"""Fixtures for the end-to-end server tests: real subprocess servers and Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.tools import chromium_browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module (each test opens its own context)."""
    with chromium_browser() as chromium:
        yield chromium
