"""The storage contract: every backend is one parameter of the ``storage`` fixture.

The fixtures (shared with tests/polling) live in :mod:`tests.support.fixtures`.
"""

from tests.support.fixtures import backend, postgres_url, storage

__all__ = ["backend", "postgres_url", "storage"]
