"""The hot poll statement, precision, reopening, and races every backend must win once."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest

from deviceflow.server.storage import open_storage
from deviceflow.server.storage.base import PendingPoll, PollTerms, Storage
from tests.contract.test_storage_contract import grant


def record(
    storage: Storage,
    now: float,
    *,
    leeway: float | None = 0.5,
    client_id: str = "c",
    tenant_id: str = "t",
) -> bool:
    return storage.record_poll(PendingPoll(now, "d1", client_id, tenant_id, leeway)) is not None


def last_poll(storage: Storage) -> float | None:
    found = storage.find_grant(device_hash="d1")
    assert found is not None
    return found.last_poll_at


def test_record_poll_first_poll_is_recorded(storage: Storage) -> None:
    storage.insert_grant(grant())
    assert record(storage, 101.0)
    assert last_poll(storage) == 101.0


def test_an_accepted_poll_answers_the_grants_terms(storage: Storage) -> None:
    storage.insert_grant(grant(last_poll_at=100.0))
    stored = storage.find_grant(device_hash="d1")
    assert stored is not None
    for leeway in (0.5, None):  # recorded, and checked only
        terms = storage.record_poll(PendingPoll(110.0, "d1", "c", "t", leeway))
        assert terms == PollTerms(stored.expires_at, stored.interval)
    assert storage.record_poll(PendingPoll(110.1, "d1", "c", "t", 0.5)) is None  # too early


def test_record_poll_respects_interval_and_leeway(storage: Storage) -> None:
    storage.insert_grant(grant(last_poll_at=100.0))  # interval 5
    assert not record(storage, 104.0)  # 4 < 5 - 0.5
    assert last_poll(storage) == 100.0
    assert record(storage, 104.5)  # 4.5 >= 4.5
    assert last_poll(storage) == 104.5
    assert record(storage, 104.6, leeway=None)  # no interval rule: checked, not recorded
    assert last_poll(storage) == 104.5


@pytest.mark.parametrize(
    ("kw", "changes"),
    [
        pytest.param({"client_id": "other"}, {}, id="other-client"),
        pytest.param({"tenant_id": "other"}, {}, id="other-tenant"),
        pytest.param({}, {"status": "approved"}, id="approved"),
        pytest.param({}, {"status": "denied"}, id="denied"),
        pytest.param({}, {"expires_at": 150.0}, id="expired"),
    ],
)
def test_record_poll_refuses_anything_but_a_live_pending_grant(
    storage: Storage, kw: dict[str, str], changes: dict[str, object]
) -> None:
    storage.insert_grant(dataclasses.replace(grant(), **changes))  # type: ignore[arg-type]
    assert not record(storage, 150.0, **kw)  # type: ignore[arg-type]
    assert not record(storage, 150.0, leeway=None, **kw)
    assert last_poll(storage) is None


def test_record_poll_unknown_code(storage: Storage) -> None:
    assert not record(storage, 1.0)


def test_epoch_timestamps_keep_sub_millisecond_precision(storage: Storage) -> None:
    now = 1_767_225_600.123456
    storage.insert_grant(grant(created=now, last_poll_at=now + 0.000125))
    found = storage.find_grant(device_hash="d1")
    assert found is not None
    assert (found.created_at, found.expires_at, found.last_poll_at) == (
        now,
        now + 900,
        now + 0.000125,
    )
    counter = storage.hit("k", now=now, window=0.5)
    assert counter.reset_at == now + 0.5


def test_reopening_keeps_data(backend: str) -> None:
    if backend == "memory:":
        pytest.skip("memory storage lives only as long as its object")
    first = open_storage(backend)
    first.insert_grant(grant())
    first.close()
    again = open_storage(backend)  # migrations run again: nothing to do
    try:
        assert again.find_grant(device_hash="d1") == grant()
    finally:
        again.close()


def race(
    backend: str,
    n: int,
    action: Callable[[Storage, int], object],
    setup: Callable[[Storage], object] = lambda store: None,
) -> list[object]:
    """Run ``action`` in ``n`` threads released together on one storage; their results."""
    store = open_storage(backend)
    try:
        setup(store)
        barrier = threading.Barrier(n)
        results: list[object] = [None] * n

        def run(i: int) -> None:
            barrier.wait()
            results[i] = action(store, i)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results
    finally:
        store.close()


def test_concurrent_user_code_inserts_have_one_winner(backend: str) -> None:
    results = race(backend, 12, lambda s, i: s.insert_grant(grant(i, user="same")))
    assert results.count(True) == 1


def test_concurrent_counter_hits_are_all_counted(backend: str) -> None:
    results = race(backend, 16, lambda s, i: s.hit("k", now=1.0, window=60.0).count)
    assert sorted(results) == list(range(1, 17))  # type: ignore[type-var]


def test_concurrent_polls_on_time_record_one(backend: str) -> None:
    results = race(
        backend,
        12,
        lambda s, i: record(s, 110.0 + i / 1000),
        setup=lambda s: s.insert_grant(grant(last_poll_at=100.0)),
    )
    assert results.count(True) == 1
