"""The purge of expired rows, on every backend (issue 12: expired grants were deleted only when a
new user code happened to collide with one, so a flood of device authorizations stayed forever).

``Storage.purge_expired(before)`` deletes the grants and refresh records that expired before
``before`` and the rate-limit counters whose window ended before it; the server's purger calls it
on a schedule (:mod:`deviceflow.server.purge`). Time is a fake clock throughout.
"""

from __future__ import annotations

from collections.abc import Iterator
from secrets import token_bytes

import pytest

from deviceflow.server.grant import GrantEngine, GrantError
from deviceflow.server.purge import Purger
from deviceflow.server.settings import Settings
from deviceflow.server.storage import open_storage
from deviceflow.server.storage.base import Storage
from tests.contract.test_storage_contract import grant, record
from tests.support.clock import FakeClock
from tests.support.grant import T0, approve, poll, redeem, start, tenant_of
from tests.support.grant_fixtures import dev_settings
from tests.support.storage_rows import stored_rows

__all__ = ["dev_settings"]


def test_purge_expired_deletes_only_what_expired_before(storage: Storage) -> None:
    storage.insert_grant(grant(1, created=100.0))  # expires at 1000
    storage.insert_grant(grant(2, created=200.0, status="consumed"))  # 1100
    storage.insert_grant(grant(3, created=300.0))  # 1200
    storage.insert_refresh(record(1, expires_at=1050.0))
    storage.insert_refresh(record(2, expires_at=1150.0, status="rotated"))
    storage.hit("old", now=1000.0, window=50.0)  # window ends at 1050
    storage.hit("new", now=1100.0, window=50.0)  # 1150

    assert storage.purge_expired(1100.0) == 3
    assert storage.find_grant(device_hash="d1") is None
    assert storage.find_grant(user_hash="u1") is None
    assert storage.find_grant(device_hash="d2") is not None  # expires exactly then: kept
    assert storage.find_grant(device_hash="d3") is not None
    assert storage.find_refresh("r1") is None
    assert storage.find_refresh("r2") is not None
    assert storage.hit("new", now=1100.0, window=50.0, amount=0).count == 1
    assert storage.purge_expired(1100.0) == 0  # nothing left to purge: idempotent


def test_purge_expired_frees_a_purged_user_code(storage: Storage) -> None:
    storage.insert_grant(grant(1, user="same"))
    storage.purge_expired(2000.0)
    assert storage.insert_grant(grant(2, user="same", created=100.0))  # still "live" at 100
    assert storage.find_grant(user_hash="same") == grant(2, user="same", created=100.0)


def test_purge_expired_keeps_named_values(storage: Storage) -> None:
    storage.put_value("ns", "k", "v")
    storage.purge_expired(1e12)
    assert storage.get_value("ns", "k") == "v"


@pytest.fixture
def flooded(
    backend: str, dev_settings: Settings
) -> Iterator[tuple[Storage, GrantEngine, FakeClock]]:
    store = open_storage(backend)
    clock = FakeClock(T0)
    try:
        yield store, GrantEngine(dev_settings, storage=store, clock=clock, rng=token_bytes), clock
    finally:
        store.close()


def test_flood_leaves_no_rows_once_expired_and_purged(
    backend: str, flooded: tuple[Storage, GrantEngine, FakeClock]
) -> None:
    store, engine, clock = flooded
    settings = engine.settings
    # A flood of device authorizations from many addresses, unknown device codes, a slow-down
    # storm, and one completed sign-in whose refresh token is rotated once.
    for n in range(60):
        start(engine, device_ip=f"198.51.100.{n}")
    for n in range(5):
        with pytest.raises(GrantError):
            poll(engine, f"unknown-{n}", ip="203.0.113.5")
    done = start(engine)
    approve(engine, done.user_code)
    tokens = redeem(engine, done.device_code)
    assert tokens.refresh_token is not None
    engine.refresh(
        tenant=tenant_of(engine),
        client_id=settings.clients[0].client_id,
        refresh_token=tokens.refresh_token,
        scope=None,
        ip="192.0.2.10",
    )
    before = stored_rows(backend, store)
    assert before["device_grants"] == 61 and before["refresh_tokens"] == 2
    assert before["counters"] > 60

    purger = Purger(store, clock=clock, interval=300, retention=900)
    assert purger.purge() == 0  # nothing has expired yet
    clock.advance(settings.lifetimes.device_code + 900 + 1)
    purged = purger.purge()
    assert stored_rows(backend, store)["device_grants"] == 0
    assert stored_rows(backend, store)["counters"] == 0
    assert stored_rows(backend, store)["refresh_tokens"] == 2  # alive for months yet
    clock.advance(settings.lifetimes.refresh_token_absolute)
    purged += purger.purge()
    after = stored_rows(backend, store)
    assert (after["device_grants"], after["refresh_tokens"], after["counters"]) == (0, 0, 0)
    assert purged == before["device_grants"] + before["refresh_tokens"] + before["counters"]
