"""Fixtures for the end-to-end tests: Debian's Chromium, one per module."""

from tests.support.fixtures import browser

__all__ = ["browser"]
