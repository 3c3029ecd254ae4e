"""The in-process app with test control on (tests of the test-control API and what it steers)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from deviceflow.server.settings import Settings
from tests.support.app_harness import Harness, running
from tests.support.fixtures import anyio_backend
from tests.support.testcontrol import control_config

__all__ = ["anyio_backend", "control_settings", "harness"]


@pytest.fixture(scope="session")
def control_settings() -> Settings:
    return Settings.from_mapping(control_config())


@pytest.fixture
async def harness(control_settings: Settings, anyio_backend: str) -> AsyncIterator[Harness]:
    async with running(control_settings) as running_harness:
        yield running_harness
