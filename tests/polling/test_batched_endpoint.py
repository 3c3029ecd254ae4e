"""The token endpoint's awaitable pending poll answers as the synchronous path.

The same device stories run twice against an app on PostgreSQL, then on SQLite: once as served
(the pending poll awaited and batched, ``arecord_poll``), once with that path hidden (the device
grant then runs the storage's synchronous ``record_poll``). Every answer (status, error) must
agree, and the async run must have taken its path for the polls it can answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deviceflow.server.settings import Settings
from deviceflow.server.storage.base import Storage
from deviceflow.server.storage.postgres import PostgresStorage
from deviceflow.server.storage.sqlite import SQLiteStorage
from tests.support.app_harness import Harness, running
from tests.support.postgres import fresh_database

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


class SyncOnly:
    """A storage without the awaitable poll: every call goes to ``inner``."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in ("arecord_poll", "aclose"):
            raise AttributeError(name)
        return getattr(self.inner, name)


Answer = tuple[int, str | None]
Store = PostgresStorage | SQLiteStorage


async def _answer(harness: Harness, code: str, tenant: str = "contoso") -> Answer:
    response = await harness.poll(code, tenant)
    body = response.json()
    return response.status_code, body.get("error")


async def story_pending_and_slow_down(h: Harness) -> list[Answer]:
    started = await h.authorize()
    code = started["device_code"]
    answers = [await _answer(h, code)]  # first poll: pending
    answers.append(await _answer(h, code))  # at once again: slow_down
    h.clock.advance(started["interval"] + 5)
    answers.append(await _answer(h, code))  # on time (interval grew by 5): pending
    return answers


async def story_no_interval_rule(h: Harness) -> list[Answer]:
    started = await h.authorize("fabrikam")  # Microsoft's dialect: no slow_down
    return [await _answer(h, started["device_code"], "fabrikam") for _ in range(3)]


async def story_approved_then_replayed(h: Harness) -> list[Answer]:
    started = await h.authorize()
    code = started["device_code"]
    answers = [await _answer(h, code)]
    assert (await h.decide(started["user_code"])).status_code == 200
    h.clock.advance(started["interval"])
    answers.append(await _answer(h, code))  # tokens
    h.clock.advance(started["interval"])
    answers.append(await _answer(h, code))  # redeemed already
    return answers


async def story_denied(h: Harness) -> list[Answer]:
    started = await h.authorize()
    assert (await h.decide(started["user_code"], "deny")).status_code == 200
    h.clock.advance(started["interval"])
    return [await _answer(h, started["device_code"])]


async def story_expired(h: Harness) -> list[Answer]:
    started = await h.authorize()
    h.clock.advance(started["expires_in"])
    return [await _answer(h, started["device_code"])]


async def story_unknown_and_foreign(h: Harness) -> list[Answer]:
    started = await h.authorize()
    return [
        await _answer(h, "no-such-device-code"),
        await _answer(h, started["device_code"], "fabrikam"),  # another tenant's code
    ]


STORIES: list[Callable[[Harness], Awaitable[list[Answer]]]] = [
    story_pending_and_slow_down,
    story_no_interval_rule,
    story_approved_then_replayed,
    story_denied,
    story_expired,
    story_unknown_and_foreign,
]

PENDING, SLOW_DOWN = (400, "authorization_pending"), (400, "slow_down")
EXPECTED = {
    "story_pending_and_slow_down": [PENDING, SLOW_DOWN, PENDING],
    "story_no_interval_rule": [PENDING] * 3,
    "story_approved_then_replayed": [PENDING, (200, None), (400, "invalid_grant")],
    "story_denied": [(400, "access_denied")],
    "story_expired": [(400, "expired_token")],
    "story_unknown_and_foreign": [(400, "invalid_grant"), (400, "bad_verification_code")],
}


async def _play(
    settings: Settings, storage: Storage, story: Callable[[Harness], Awaitable[list[Answer]]]
) -> list[Answer]:
    async with running(settings, storage) as harness:
        return await story(harness)


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[PostgresStorage]:
    store = PostgresStorage(postgres_url)
    try:
        yield store
    finally:
        await store.aclose()
        store.close()


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each backend with the awaitable poll (PostgreSQL: a fresh database per module); the
    test awaits ``aclose`` on its own loop."""
    found: Store
    if request.param == "postgresql":
        found = PostgresStorage(request.getfixturevalue("postgres_url"))
    else:
        found = SQLiteStorage(tmp_path / "served.sqlite3")
    yield found
    found.close()


@pytest.mark.parametrize("story", STORIES, ids=[s.__name__ for s in STORIES])
async def test_async_and_sync_poll_answer_alike(
    server_settings: Settings,
    store: Store,
    story: Callable[[Harness], Awaitable[list[Answer]]],
) -> None:
    try:
        await _compare(server_settings, store, story)
    finally:
        await store.aclose()


async def _compare(
    server_settings: Settings, store: Store, story: Callable[[Harness], Awaitable[list[Answer]]]
) -> None:
    calls = {"async": 0, "sync": 0}
    arecord, record = store.arecord_poll, store.record_poll

    async def counting_arecord(*args: Any, **kw: Any) -> bool:
        calls["async"] += 1
        return await arecord(*args, **kw)

    def counting_record(*args: Any, **kw: Any) -> bool:
        calls["sync"] += 1
        return record(*args, **kw)

    store.arecord_poll = counting_arecord  # type: ignore[method-assign]
    store.record_poll = counting_record  # type: ignore[method-assign]
    served = await _play(server_settings, store, story)
    # Every poll that reached storage tried the awaitable first (the polls of a flow known
    # pending are answered from memory: grant._pacing).
    reached = calls["async"]
    assert reached <= len(served) and calls["sync"] == 0
    plain = await _play(server_settings, SyncOnly(store), story)  # type: ignore[arg-type]
    assert calls["sync"] == reached  # the same polls reach storage on the plain path
    assert served == plain == EXPECTED[story.__name__]


async def test_lifespan_closes_the_loops_poll_connections(
    server_settings: Settings, pg: PostgresStorage
) -> None:
    async with running(server_settings, pg) as other:  # the flow starts on another instance
        started = await other.authorize()
    async with running(server_settings, pg) as harness:
        async with harness.app.router.lifespan_context(harness.app):
            # Unknown to this instance: its first poll goes to storage, on the loop's connection.
            assert await _answer(harness, started["device_code"]) == (
                400,
                "authorization_pending",
            )
            assert pg._async is not None and pg._async.opened
        assert pg._async is None
