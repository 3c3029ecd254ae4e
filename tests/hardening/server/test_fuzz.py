"""Property-based fuzzing of every endpoint, in process (checklist: "clean 4xx, never 5xx").

Hypothesis builds requests per endpoint area (see ``fuzzing.py``) and hands them straight to
``create_app`` over ASGI, with live codes and tokens mixed into the values so that real rows are
reached. Every answer must be below 500 and nothing may log a traceback (the log guard).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from deviceflow.server.app import create_app
from deviceflow.server.storage import open_storage
from tests.hardening import figures
from tests.hardening.server.fuzzing import AREAS, Request, call, requests_for
from tests.hardening.server.harness import GuardedHarness, guarded, hardening_settings, scaled
from tests.support.clock import FakeClock

CASES = scaled(120, 2000)


async def _live_values(harness: GuardedHarness) -> dict[str, str]:
    pending = await harness.authorize()
    tokens = await harness.tokens()
    return {
        "device_code": pending["device_code"],
        "user_code": pending["user_code"],
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
    }


@pytest.mark.parametrize("area", list(AREAS))
def test_fuzzed_requests_never_get_a_5xx(area: str, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    storage = open_storage(f"sqlite:///{tmp_path / 'fuzz.sqlite3'}")
    config = hardening_settings()

    async def prepare() -> dict[str, str]:
        async with guarded(config, storage, FakeClock()) as harness:
            return await _live_values(harness)

    live = loop.run_until_complete(prepare())
    app = create_app(config, storage=storage, clock=FakeClock(), rng=secrets.token_bytes)
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests_for(area, live))
    def run(request: Request) -> None:
        status = loop.run_until_complete(call(app, request))
        statuses[status] += 1
        assert 200 <= status < 500, (status, request[:3])

    try:
        run()
    finally:
        loop.close()
        storage.close()
    figures.record(
        "Fuzzing",
        f"{area} (in-process)",
        cases=sum(statuses.values()),
        responses_2xx=sum(n for s, n in statuses.items() if s < 300),
        responses_4xx=sum(n for s, n in statuses.items() if 400 <= s < 500),
        responses_5xx=0,
    )
