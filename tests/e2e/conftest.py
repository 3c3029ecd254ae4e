"""Fixtures for the end-to-end tests: Debian's Chromium, one per module, and a page per test."""

from tests.support.fixtures import browser, browser_context_options, page

__all__ = ["browser", "browser_context_options", "page"]
