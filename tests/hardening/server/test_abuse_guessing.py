"""Server under abuse: user-code guessing from many IPs and browser sessions (checklist 1-3).

Each address and each browser session gets 5 wrong codes per 15 minutes; after that even a right
code is refused (429). A guesser that spreads over many addresses stays under each of those
limits, so wrong codes from all addresses together raise one ``guessing_alarm`` audit event per
window.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from deviceflow.server.settings import DEFAULT_CHARSET
from tests.hardening import figures
from tests.hardening.server.harness import GuardedHarness, guarded, hardening_settings, scaled

pytestmark = pytest.mark.anyio

IPS = 20
ALARM_AT = 40


def wrong_code() -> str:
    """A well-formed user code (almost surely not live): it reaches the database lookup."""
    return "".join(secrets.choice(DEFAULT_CHARSET) for _ in range(8))


@pytest.fixture
async def alarmed(anyio_backend: str) -> AsyncIterator[GuardedHarness]:
    settings = hardening_settings(
        rate_limits={"guessing_alarm_failures": ALARM_AT, "guessing_alarm_window": 300}
    )
    async with guarded(settings) as harness:
        yield harness


async def guess(server: GuardedHarness, browser: httpx.AsyncClient, code: str) -> int:
    response = await server.enter_code(browser, code)
    return response.status_code


async def test_guessing_from_many_ips_is_limited_per_ip_and_raises_one_alarm(
    alarmed: GuardedHarness, audit_events: list[dict[str, object]]
) -> None:
    live = await alarmed.authorize()
    per_ip = scaled(8, 40)
    tried = refused = 0
    for n in range(IPS):
        browser = alarmed.client(f"203.0.113.{n + 1}")
        statuses = [await guess(alarmed, browser, wrong_code()) for _ in range(per_ip)]
        tried += len(statuses)
        refused += statuses.count(429)
        assert statuses[:5] == [404] * 5
        assert statuses[5:] == [429] * (per_ip - 5)
        # Checklist 3: a locked address is refused even with the right code.
        assert await guess(alarmed, browser, live["user_code"]) == 429
    # Another address is not affected, and the live code still works there.
    assert await guess(alarmed, alarmed.client("198.51.100.200"), live["user_code"]) == 200
    alarms = [e for e in audit_events if e["event"] == "guessing_alarm"]
    assert len(alarms) == 1  # 100 counted failures, one alarm per window
    assert alarms[0]["failures"] == ALARM_AT
    assert not any(live["user_code"].replace("-", "") in str(e) for e in audit_events)
    figures.record(
        "Server under abuse",
        f"user-code guessing, {IPS} IPs",
        tried=tried,
        refused=refused,
        right_code_after_lockout_refused=IPS,
        codes_found=0,
        alarms=len(alarms),
    )


async def test_alarm_fires_again_in_a_later_window(
    alarmed: GuardedHarness, audit_events: list[dict[str, object]]
) -> None:
    for window in range(2):
        for n in range(ALARM_AT // 5):
            browser = alarmed.client(f"192.0.2.{window * 50 + n + 1}")
            for _ in range(5):
                assert await guess(alarmed, browser, wrong_code()) == 404
        alarmed.clock.advance(301)
    assert [e["event"] for e in audit_events].count("guessing_alarm") == 2


async def test_one_ip_with_fresh_sessions_is_limited_per_ip(server: GuardedHarness) -> None:
    statuses = [await guess(server, server.client("203.0.113.77"), wrong_code()) for _ in range(9)]
    assert statuses == [404] * 5 + [429] * 4
    figures.record(
        "Server under abuse",
        "user-code guessing, 1 IP, a new browser session per guess",
        tried=len(statuses),
        refused=statuses.count(429),
    )


async def test_one_session_across_ips_is_limited_per_session(server: GuardedHarness) -> None:
    first = server.client("203.0.113.1")
    await first.get("/devicelogin")  # the session cookie
    statuses = []
    for n in range(9):
        browser = server.client(f"198.51.100.{n + 1}")
        browser.cookies = first.cookies
        statuses.append(await guess(server, browser, wrong_code()))
    assert statuses == [404] * 5 + [429] * 4
    figures.record(
        "Server under abuse",
        "user-code guessing, 1 browser session, a new IP per guess",
        tried=len(statuses),
        refused=statuses.count(429),
    )


async def test_normalised_variants_share_the_counter(server: GuardedHarness) -> None:
    browser = server.client("203.0.113.9")
    code = wrong_code()
    variants = [code, code.lower(), f"{code[:4]}-{code[4:]}", f"{code[:4]} {code[4:]}", code]
    statuses = [await guess(server, browser, v) for v in variants]
    assert statuses == [404] * 5
    assert await guess(server, browser, wrong_code()) == 429
