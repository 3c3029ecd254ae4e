"""Acceptance: a rolling restart of two instances on PostgreSQL loses no poll.

Fifty simulated devices (asyncio) poll through a load balancer
(:class:`~tests.integration.operations.balancer.Balancer`: round robin over the instances whose
``/readyz`` says ready, failing over when a connection is refused) while each instance in turn
is stopped with SIGTERM and started again. ``deviceflow serve --drain 1``: on SIGTERM the
instance answers ``/readyz`` 503 for a second while it still serves everything, the balancer
takes it out, then it stops listening and finishes what is in flight. Every poll must be
answered ``authorization_pending``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.operations.balancer import Balancer
from tests.support.config import write_config
from tests.support.postgres import fresh_database
from tests.support.serverproc import CLIENT_ID, DEVICE_GRANT, ServerProcess, e2e_config

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("multi-instance")]

DEVICES = 50
INTERVAL = 1.0


async def device(balancer: Balancer, stop: asyncio.Event, outcomes: Counter[str]) -> None:
    """Start a flow, then poll every interval until told to stop; count each answer."""
    started = await balancer.post(
        "/contoso/oauth2/v2.0/devicecode", {"client_id": CLIENT_ID, "scope": "openid"}
    )
    assert started.status_code == 200, started.text
    form = {"grant_type": DEVICE_GRANT, "device_code": started.json()["device_code"],
            "client_id": CLIENT_ID}  # fmt: skip
    while not stop.is_set():
        await asyncio.sleep(INTERVAL)
        try:
            answer = await balancer.post("/contoso/oauth2/v2.0/token", form)
        except Exception as exc:  # any failure the device would see
            outcomes[f"failed: {type(exc).__name__}"] += 1
            continue
        error = answer.json().get("error") if answer.status_code == 400 else answer.status_code
        outcomes[str(error)] += 1


async def restart(server: ServerProcess) -> None:
    """SIGTERM (the drain, then a clean stop), then the same instance again."""
    code = await asyncio.to_thread(server.stop)
    assert code == 0
    await asyncio.to_thread(server.start)


async def fleet_through_rolling_restart(a: ServerProcess, b: ServerProcess) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    stop = asyncio.Event()
    async with Balancer([a.base_url, b.base_url]).running() as balancer:
        devices = [asyncio.create_task(device(balancer, stop, outcomes)) for _ in range(DEVICES)]
        await asyncio.sleep(2 * INTERVAL)
        for server in (a, b):
            before = [backend.served for backend in balancer.backends]
            await restart(server)
            await asyncio.sleep(2 * INTERVAL)  # back in the pool, serving again
            after = [backend.served for backend in balancer.backends]
            assert all(n > m for n, m in zip(after, before, strict=True)), (before, after)
        stop.set()
        await asyncio.gather(*devices)
    return outcomes


def test_rolling_restart_under_a_polling_fleet_loses_no_poll(tmp_path: Path) -> None:
    config = write_config(tmp_path, e2e_config(interval=int(INTERVAL)))
    with fresh_database() as url:
        a = ServerProcess(tmp_path, config, db_url=url, args=("--drain", "1"))
        b = ServerProcess(tmp_path, config, db_url=url, args=("--drain", "1"))
        try:
            a.start()
            b.start()
            outcomes = asyncio.run(fleet_through_rolling_restart(a, b))
        finally:
            a.stop()
            b.stop()
    assert set(outcomes) == {"authorization_pending"}, outcomes
    assert outcomes["authorization_pending"] >= DEVICES * 5
    assert not a.tracebacks() and not b.tracebacks()
