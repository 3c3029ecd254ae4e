"""Server under abuse: device-code enumeration and polling storms (checklist 5, 7, 17).

Unknown device codes are capped per address (429 with ``Retry-After``); a device that polls too
fast gets ``slow_down`` (RFC dialect) and a growing interval (up to its ceiling), one
``slow_down_burst`` audit event marks the storm, and an honest device polling beside it never
sees ``slow_down``.
"""

from __future__ import annotations

import random
import secrets

import pytest

from deviceflow.server.grant import MAX_POLL_INTERVAL, SLOW_DOWN_STEP
from tests.hardening import figures
from tests.hardening.server.harness import GuardedHarness, scaled

pytestmark = pytest.mark.anyio


async def test_unknown_device_codes_are_capped_per_ip(server: GuardedHarness) -> None:
    honest = await server.authorize(ip="198.51.100.50")
    attempts = scaled(60, 1000)
    statuses: list[int] = []
    for _ in range(attempts):
        response = await server.client("203.0.113.66").post(
            "/contoso/oauth2/v2.0/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": secrets.token_urlsafe(32),
                "client_id": "hardening-lamp",
            },
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) > 0
            assert response.json()["error"] == "rate_limited"
        else:
            assert response.json()["error"] == "invalid_grant"
    assert statuses[:20] == [400] * 20 and set(statuses[20:]) == {429}
    # The honest device, elsewhere, is untouched.
    assert (await server.poll(honest["device_code"])).json()["error"] == "authorization_pending"
    figures.record(
        "Server under abuse",
        "device-code enumeration, 1 IP",
        tried=attempts,
        refused_429=statuses.count(429),
        found=0,
    )


async def test_polling_storm_gets_slow_down_and_one_burst_event(
    server: GuardedHarness, audit_events: list[dict[str, object]]
) -> None:
    stormer = await server.authorize()
    honest = await server.authorize()
    storm = scaled(40, 400)
    errors = []
    for _ in range(storm):
        errors.append((await server.poll(stormer["device_code"])).json()["error"])
        server.clock.advance(0.1)
    assert errors[0] == "authorization_pending"  # the first poll is never throttled
    assert set(errors[1:]) == {"slow_down"}
    # The honest device polls at its interval with +-500 ms of network jitter: never throttled.
    interval = honest["interval"]
    jitter = random.Random(7)
    honest_errors = []
    for _ in range(scaled(10, 100)):
        server.clock.advance(interval + jitter.uniform(-0.5, 0.5))
        honest_errors.append((await server.poll(honest["device_code"])).json()["error"])
    assert set(honest_errors) == {"authorization_pending"}
    names = [e["event"] for e in audit_events]
    # Each answer that raised the interval is audited (up to its ceiling: 11 from 5 s) ...
    raised = (MAX_POLL_INTERVAL - interval) // SLOW_DOWN_STEP
    assert names.count("slow_down") == min(storm - 1, raised)
    assert names.count("slow_down_burst") >= 1  # ... and the storm is flagged
    figures.record(
        "Server under abuse",
        "polling storm, in-process (1 storming, 1 honest device)",
        storm_polls=storm,
        slow_down=errors.count("slow_down"),
        honest_polls=len(honest_errors),
        honest_slow_down=0,
    )


async def test_storm_interval_grows_by_five_seconds_each_time(server: GuardedHarness) -> None:
    started = await server.authorize()
    assert (await server.poll(started["device_code"])).json()["error"] == "authorization_pending"
    for _ in range(3):
        assert (await server.poll(started["device_code"])).json()["error"] == "slow_down"
    # Interval is now 5 + 15 = 20 s: a poll after 19 s is still early, after 20 s it is not.
    server.clock.advance(18.5)
    assert (await server.poll(started["device_code"])).json()["error"] == "slow_down"
    server.clock.advance(25)
    assert (await server.poll(started["device_code"])).json()["error"] == "authorization_pending"
