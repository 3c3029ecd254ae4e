"""The storage contract: every backend is one parameter of the ``storage`` fixture.

A PostgreSQL backend joins by adding a ``pytest.param("postgres", ...)`` that builds it from a
test database URL (skipping when none is configured).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deviceflow.server.storage import open_storage
from deviceflow.server.storage.base import Storage


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a fresh, empty database of each backend."""
    if request.param == "memory":
        return "memory:"
    return f"sqlite:///{tmp_path / 'contract.sqlite3'}"


@pytest.fixture
def storage(backend: str) -> Iterator[Storage]:
    store = open_storage(backend)
    yield store
    store.close()
