"""Fixtures for the grant-engine tests (shared with tests/polling)."""

from tests.support.grant_fixtures import (
    EngineFactory,
    clock,
    dev_settings,
    engine,
    engine_factory,
    rfc_settings,
    storage_factory,
)

__all__ = [
    "EngineFactory",
    "clock",
    "dev_settings",
    "engine",
    "engine_factory",
    "rfc_settings",
    "storage_factory",
]
