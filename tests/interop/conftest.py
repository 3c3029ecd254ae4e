"""Fixtures for the interop tests: Debian's Chromium, one per module."""

from tests.support.fixtures import browser

__all__ = ["browser"]
