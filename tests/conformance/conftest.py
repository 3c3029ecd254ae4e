"""Fixtures for the RFC 8628 conformance tests: the in-process app (shared with
tests/integration/server)."""

from tests.support.fixtures import anyio_backend, server, server_settings

__all__ = ["anyio_backend", "server", "server_settings"]
