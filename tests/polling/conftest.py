"""The polling tests, gathered by feature, one module per layer:

- ``test_engine_rules``: the grant engine's rules (pending, approval, denial, expiry, one-time
  redemption, slow_down);
- ``test_on_time_statement``: the on-time statement every store runs, and its races;
- ``test_batched_storage``: the awaitable, batched poll of SQLite and PostgreSQL against the
  synchronous one;
- ``test_batched_endpoint``: the token endpoint's batched path against the synchronous one;
- ``test_pair_flow``: the client core against the app, without sockets (:mod:`tests.support.pair`).

RFC 8628 §3.4 and §3.5 conformance stays in tests/conformance (a module per section), the
polling-storm abuse tests in tests/hardening/server. The fixtures here are the grant engine's,
the storage contract's and the in-process app's.
"""

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
