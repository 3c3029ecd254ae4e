"""Fixtures for the in-process server tests (shared with tests/conformance)."""

from tests.support.fixtures import anyio_backend, server, server_settings

__all__ = ["anyio_backend", "server", "server_settings"]
