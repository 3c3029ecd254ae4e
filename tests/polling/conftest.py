"""Fixtures of the polling tests: the grant engine's, the storage contract's, the app's."""

from tests.support.fixtures import anyio_backend, backend, postgres_url, server_settings, storage
from tests.support.grant_fixtures import (
    clock,
    dev_settings,
    engine_factory,
    rfc_settings,
    storage_factory,
)

__all__ = [
    "anyio_backend",
    "backend",
    "clock",
    "dev_settings",
    "engine_factory",
    "postgres_url",
    "rfc_settings",
    "server_settings",
    "storage",
    "storage_factory",
]
