"""Behaviour every storage backend must show (run once per backend, see conftest)."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from deviceflow.server.storage import open_storage
from deviceflow.server.storage.base import DeviceGrant, RefreshRecord, Storage


def grant(
    n: int = 1, *, user: str | None = None, created: float = 100.0, **kw: object
) -> DeviceGrant:
    base = DeviceGrant(
        device_hash=f"d{n}",
        user_hash=user or f"u{n}",
        client_id="c",
        tenant_id="t",
        scopes=("openid", "User.Read"),
        device_ip="192.0.2.1",
        device_user_agent=None,
        created_at=created,
        expires_at=created + 900,
        interval=5,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def record(n: int = 1, **kw: object) -> RefreshRecord:
    base = RefreshRecord(
        token_hash=f"r{n}",
        family_id="f1",
        client_id="c",
        tenant_id="t",
        user_id="u",
        scopes=("openid", "offline_access"),
        origin="device_code",
        issued_at=1.0,
        expires_at=2.0,
        absolute_expires_at=3.0,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_grant_round_trip(storage: Storage) -> None:
    assert storage.insert_grant(grant(device_user_agent="TV"))
    found = storage.find_grant(device_hash="d1")
    assert found == grant(device_user_agent="TV")
    assert storage.find_grant(user_hash="u1") == found
    assert storage.find_grant(device_hash="nope") is None
    assert storage.find_grant(user_hash="nope") is None


def test_empty_scopes_round_trip(storage: Storage) -> None:
    storage.insert_grant(grant(scopes=()))
    found = storage.find_grant(device_hash="d1")
    assert found is not None and found.scopes == ()


def test_live_user_code_cannot_be_reused(storage: Storage) -> None:
    assert storage.insert_grant(grant(1, user="same"))
    assert not storage.insert_grant(grant(2, user="same", created=500.0))
    assert storage.find_grant(device_hash="d2") is None


def test_expired_user_code_is_replaced(storage: Storage) -> None:
    assert storage.insert_grant(grant(1, user="same"))
    assert storage.insert_grant(grant(2, user="same", created=1000.0))
    assert storage.find_grant(user_hash="same") == grant(2, user="same", created=1000.0)
    assert storage.find_grant(device_hash="d1") is None


def test_duplicate_device_code_is_refused(storage: Storage) -> None:
    assert storage.insert_grant(grant(1))
    assert not storage.insert_grant(grant(1, user="other"))


def test_update_grant_is_compare_and_set(storage: Storage) -> None:
    storage.insert_grant(grant())
    assert storage.update_grant("d1", {"status": "pending"}, {"status": "approved", "user_id": "u"})
    assert not storage.update_grant("d1", {"status": "pending"}, {"status": "denied"})
    assert storage.update_grant("d1", {"last_poll_at": None}, {"last_poll_at": 5.5})
    assert not storage.update_grant("d1", {"last_poll_at": None}, {"last_poll_at": 6.0})
    assert not storage.update_grant("missing", {}, {"status": "denied"})
    found = storage.find_grant(device_hash="d1")
    assert found is not None
    assert (found.status, found.user_id, found.last_poll_at) == ("approved", "u", 5.5)


def test_update_grant_refuses_unknown_columns(storage: Storage) -> None:
    storage.insert_grant(grant())
    with pytest.raises(ValueError, match="unknown column"):
        storage.update_grant("d1", {"status; DROP TABLE x": 1}, {"status": "denied"})
    with pytest.raises(ValueError, match="unknown column"):
        storage.update_refresh("r1", {}, {"nope": 1})


def test_concurrent_compare_and_set_has_one_winner(backend: str) -> None:
    store = open_storage(backend)
    try:
        store.insert_grant(grant(status="approved"))
        barrier = threading.Barrier(20)
        wins: list[bool] = []

        def consume() -> None:
            barrier.wait()
            wins.append(store.update_grant("d1", {"status": "approved"}, {"status": "consumed"}))

        threads = [threading.Thread(target=consume) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wins.count(True) == 1
    finally:
        store.close()


def test_refresh_round_trip_and_compare_and_set(storage: Storage) -> None:
    storage.insert_refresh(record())
    assert storage.find_refresh("r1") == record()
    assert storage.find_refresh("r2") is None
    assert storage.update_refresh("r1", {"status": "active"}, {"status": "rotated"})
    assert not storage.update_refresh("r1", {"status": "active"}, {"status": "rotated"})
    found = storage.find_refresh("r1")
    assert found is not None and found.status == "rotated"


def test_counters_count_within_a_window(storage: Storage) -> None:
    assert storage.hit("k", now=0.0, window=10.0, amount=0).count == 0
    assert storage.hit("k", now=0.0, window=10.0).count == 1
    second = storage.hit("k", now=5.0, window=10.0)
    assert (second.count, second.reset_at) == (2, 10.0)
    assert storage.hit("k", now=9.0, window=10.0, amount=0).count == 2
    assert storage.hit("other", now=9.0, window=10.0).count == 1
    restarted = storage.hit("k", now=10.0, window=10.0)
    assert (restarted.count, restarted.reset_at) == (1, 20.0)
    assert storage.hit("k", now=31.0, window=10.0, amount=0).count == 0


def test_counters_take_back_never_below_zero(storage: Storage) -> None:
    assert storage.hit("k", now=0.0, window=10.0).count == 1
    assert storage.hit("k", now=1.0, window=10.0).count == 2
    assert storage.hit("k", now=2.0, window=10.0, amount=-1).count == 1
    assert storage.hit("k", now=3.0, window=10.0, amount=-1).count == 0
    assert storage.hit("k", now=4.0, window=10.0, amount=-1).count == 0
    assert storage.hit("k", now=5.0, window=10.0).count == 1
    assert storage.hit("fresh", now=5.0, window=10.0, amount=-1).count == 0
    assert storage.hit("k", now=10.0, window=10.0, amount=-1).count == 0  # a new window
    assert storage.hit("k", now=11.0, window=10.0).count == 1


def test_values(storage: Storage) -> None:
    assert storage.get_value("ns", "k") is None
    assert storage.put_value("ns", "k", "one")
    assert not storage.put_value("ns", "k", "two", replace=False)
    assert storage.get_value("ns", "k") == "one"
    assert storage.put_value("ns", "k", "three")
    assert storage.get_value("ns", "k") == "three"
    assert storage.get_value("other", "k") is None


def test_unsupported_url_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database URL 'mysql'"):
        open_storage("mysql://x")
