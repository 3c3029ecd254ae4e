"""Fixtures for the RFC 8628 conformance tests (the in-process harness)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from deviceflow.server.settings import Settings
from tests.integration.server.harness import Harness, harness_settings, running


@pytest.fixture(scope="session")
def server_settings() -> Settings:
    return harness_settings()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def server(server_settings: Settings, anyio_backend: str) -> AsyncIterator[Harness]:
    async with running(server_settings) as harness:
        yield harness
