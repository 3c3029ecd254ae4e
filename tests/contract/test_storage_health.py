"""What the probes and the metrics page ask of every backend: ``check`` and ``count_pending``."""

from __future__ import annotations

from deviceflow.server.storage.base import Storage
from tests.contract.test_storage_contract import grant


def test_check_on_a_migrated_store_is_ready(storage: Storage) -> None:
    assert storage.check() is None


def test_count_pending_counts_live_pending_grants_only(storage: Storage) -> None:
    assert storage.count_pending(100.0) == 0
    assert storage.insert_grant(grant(1))
    assert storage.insert_grant(grant(2))
    assert storage.insert_grant(grant(3, created=0.0))  # expires at 900
    assert storage.update_grant("d2", {"status": "pending"}, {"status": "approved"})
    assert storage.count_pending(100.0) == 2  # d1, d3
    assert storage.count_pending(950.0) == 1  # d3 has expired
