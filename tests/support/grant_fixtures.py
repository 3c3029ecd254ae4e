"""Fixtures for the grant-engine tests (tests/unit/server, tests/polling): the development
settings, an injected clock, stores, and an engine factory."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deviceflow.server.grant import GrantEngine
from deviceflow.server.settings import Settings
from deviceflow.server.storage.base import Storage
from deviceflow.server.storage.memory import MemoryStorage
from deviceflow.server.storage.sqlite import SQLiteStorage
from tests.support.clock import FakeClock
from tests.support.grant import T0


@pytest.fixture(scope="session")
def dev_settings() -> Settings:
    # Built once: hashing the demo passwords with argon2 costs a fraction of a second.
    return Settings.development()


@pytest.fixture
def rfc_settings(dev_settings: Settings) -> Settings:
    """The development setup with the demo tenant speaking the RFC dialect (slow_down on)."""
    tenant = dataclasses.replace(dev_settings.tenants[0], dialect="rfc8628")
    return dataclasses.replace(dev_settings, tenants=(tenant,))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def storage_factory(tmp_path: Path) -> Iterator[Callable[[str], Storage]]:
    opened: list[Storage] = []

    def make(kind: str = "memory") -> Storage:
        store: Storage = (
            MemoryStorage() if kind == "memory" else SQLiteStorage(tmp_path / "server.sqlite3")
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


EngineFactory = Callable[..., GrantEngine]


@pytest.fixture
def engine_factory(
    dev_settings: Settings, clock: FakeClock, storage_factory: Callable[[str], Storage]
) -> EngineFactory:
    def make(
        settings: Settings | None = None,
        *,
        storage: Storage | None = None,
        rng: Callable[[int], bytes] = secrets.token_bytes,
        **changes: Any,
    ) -> GrantEngine:
        chosen = settings or dev_settings
        if changes:
            chosen = dataclasses.replace(chosen, **changes)
        return GrantEngine(
            chosen, storage=storage or storage_factory("memory"), clock=clock, rng=rng
        )

    return make


@pytest.fixture
def engine(engine_factory: EngineFactory) -> GrantEngine:
    return engine_factory()
