"""The golden tests reuse the in-process server fixtures of the integration tests."""

from __future__ import annotations

from tests.integration.server.conftest import anyio_backend, server, server_settings

__all__ = ["anyio_backend", "server", "server_settings"]
