"""The sync and async clients, over urllib and httpx, plain HTTP and TLS, through injected faults.

Each flow runs against the real ``deviceflow serve`` through its own
:class:`~tests.hardening.faultproxy.FaultProxy` (drops, resets, stalls past the client timeout,
delays, truncated bodies, 5xx and 429 with and without ``Retry-After``, HTML error pages, and
under TLS resets and clean closes in the middle of the handshake). The person approves on the
real verification pages over HTTP while the client polls. Every flow must complete with a token
the server accepts, or fail with a typed error the faults explain (``scenarios.judge``); an
exception outside the ``DeviceFlowError`` tree counts as a traceback and fails the test.

Per driver: for each transport and scheme one scheduled flow (every fault kind, must complete)
and ``RANDOM_FLOWS`` random ones (2; 12 with ``DEVICEFLOW_SOAK=1``), all at the same time.
Random faults come from a seed printed in every failure message; ``DEVICEFLOW_FAULT_SEED=<seed>``
replays a run. A run takes about 15-25 s per driver (bounded by the 40 s code lifetime).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from deviceflow.client import AsyncDeviceFlowClient, DeviceFlowClient
from deviceflow.transports import (
    AsyncHttpxTransport,
    AsyncTransport,
    AsyncUrllibTransport,
    HttpxTransport,
    Transport,
    UrllibTransport,
)
from tests.hardening import figures
from tests.hardening.client.conftest import UNCLOSED_TLS
from tests.hardening.client.scenarios import (
    CLIENT_TIMEOUT,
    CODE_LIFETIME,
    Approver,
    FlowSpec,
    Outcome,
    base_seed,
    endpoints,
    judge,
    specs,
    tally,
    token_works,
)
from tests.hardening.client.serverkit import CLIENT_ID, SCOPE, ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("hardening-client"),
    pytest.mark.filterwarnings(UNCLOSED_TLS),
]

TRANSPORTS = ("urllib", "httpx")


def _sync_transport(name: str, cert: Path) -> Transport:
    if name == "httpx":
        return HttpxTransport(ca_bundle=cert)
    return UrllibTransport(ca_bundle=cert)


def _async_transport(name: str, cert: Path) -> AsyncTransport:
    if name == "httpx":
        return AsyncHttpxTransport(ca_bundle=cert)
    return AsyncUrllibTransport(UrllibTransport(ca_bundle=cert))


def _finish(outcome: Outcome, server: ServerProcess, approver: Approver) -> None:
    approver.join()
    if approver.error is not None:
        outcome.extra.append(f"approval failed: {approver.error!r} ({outcome.spec.label})")
    if outcome.access_token is not None and not token_works(server, outcome.access_token):
        outcome.extra.append(f"the server refuses the token ({outcome.spec.label})")


def run_sync(spec: FlowSpec, server: ServerProcess, cert: tuple[Path, Path]) -> Outcome:
    proxy = spec.proxy(server, cert)
    outcome = Outcome(spec, proxy)
    approver = Approver(server, proxy, spec.scheduled)
    transport = _sync_transport(spec.transport, cert[0])
    began = time.monotonic()
    try:
        client = DeviceFlowClient(
            CLIENT_ID, endpoints=endpoints(proxy), transport=transport, timeout=CLIENT_TIMEOUT
        )
        issued = client.start(SCOPE)
        outcome.started = True
        approver.start(issued.user_code)
        token = client.wait(issued)
        outcome.access_token, outcome.refresh_token = token.access_token, token.refresh_token
    except BaseException as exc:  # judged below: typed or a "traceback"
        outcome.error = exc
    finally:
        outcome.elapsed = time.monotonic() - began
        close = getattr(transport, "close", None)
        if close is not None:
            close()
        proxy.close()
    _finish(outcome, server, approver)
    return outcome


async def run_async(spec: FlowSpec, server: ServerProcess, cert: tuple[Path, Path]) -> Outcome:
    proxy = spec.proxy(server, cert)
    outcome = Outcome(spec, proxy)
    approver = Approver(server, proxy, spec.scheduled)
    transport = _async_transport(spec.transport, cert[0])
    began = time.monotonic()
    try:
        client = AsyncDeviceFlowClient(
            CLIENT_ID, endpoints=endpoints(proxy), transport=transport, timeout=CLIENT_TIMEOUT
        )
        issued = await client.start(SCOPE)
        outcome.started = True
        approver.start(issued.user_code)
        token = await client.wait(issued)
        outcome.access_token, outcome.refresh_token = token.access_token, token.refresh_token
    except BaseException as exc:  # judged below
        outcome.error = exc
    finally:
        outcome.elapsed = time.monotonic() - began
        aclose = getattr(transport, "aclose", None)
        if aclose is not None:
            await aclose()
        proxy.close()
    await asyncio.to_thread(_finish, outcome, server, approver)
    return outcome


def _report(driver: str, outcomes: list[Outcome]) -> None:
    for transport in TRANSPORTS:
        mine = [o for o in outcomes if o.spec.transport == transport]
        figures.record("Client under faults", f"{driver} client, {transport}", **tally(mine))
    problems = [problem for outcome in outcomes for problem in judge(outcome)]
    assert not problems, "\n".join(problems)
    assert any(o.completed for o in outcomes), "no flow completed at all"


def test_sync_client_survives_faults_or_fails_typed(
    server: ServerProcess, cert: tuple[Path, Path]
) -> None:
    flows = specs("sync", TRANSPORTS, base_seed())
    outcomes: list[Outcome | None] = [None] * len(flows)

    def run(index: int) -> None:
        outcomes[index] = run_sync(flows[index], server, cert)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(flows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CODE_LIFETIME + 30)
    hung = [flows[i].label for i, o in enumerate(outcomes) if o is None]
    assert not hung, f"flows did not finish: {hung}"
    _report("sync", [o for o in outcomes if o is not None])


def test_async_client_survives_faults_or_fails_typed(
    server: ServerProcess, cert: tuple[Path, Path]
) -> None:
    flows = specs("async", TRANSPORTS, base_seed())

    async def main() -> list[Outcome]:
        runs = [run_async(spec, server, cert) for spec in flows]
        return await asyncio.wait_for(asyncio.gather(*runs), CODE_LIFETIME + 30)

    _report("async", asyncio.run(main()))
