"""Fault scenarios shared by the client hardening tests: who runs, through which faults, and
how an outcome is judged.

A :class:`FlowSpec` is one sign-in: a driver (sync or async client, or the CLI), a transport, plain
HTTP or TLS, and either a fixed fault *schedule* (every fault kind once, on polls that still
answer ``authorization_pending``, so the flow must complete) or *random* faults at a rate, from a
seed. :func:`judge` decides whether what happened is allowed: the flow completed, or it failed
with a typed error that the injected faults explain (see its docstring); anything else, and any
exception outside the ``DeviceFlowError`` tree (a traceback), is a failure whose message carries
the seed and the faults, so ``DEVICEFLOW_FAULT_SEED=<seed>`` replays it.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deviceflow.core import Endpoints
from deviceflow.errors import (
    DeviceFlowError,
    ExpiredTokenError,
    InvalidGrantError,
    RemoteProtocolError,
    TransportError,
)
from tests.hardening import faultproxy as fp
from tests.hardening.client.serverkit import ServerProcess, approve_http

SOAK = os.environ.get("DEVICEFLOW_SOAK") == "1"
#: Random flows per (driver, transport, scheme); more with DEVICEFLOW_SOAK=1.
RANDOM_FLOWS = 12 if SOAK else 2
#: Probability of a fault on each request of a random flow, and on each new TLS connection.
RATE = 0.35
TLS_RATE = 0.3
#: The client's per-exchange timeout: shorter than a STALL, longer than a DELAY.
CLIENT_TIMEOUT = 1.5
STALL, DELAY = 3.0, 0.6
#: The device code lifetime the server is configured with (seconds).
CODE_LIFETIME = 40


def base_seed() -> int:
    """``DEVICEFLOW_FAULT_SEED`` (to replay a failure), else a fresh random seed."""
    value = os.environ.get("DEVICEFLOW_FAULT_SEED")
    return int(value) if value else secrets.randbelow(2**31)


#: The HTTP fault kinds are spread over this many scheduled flows per transport (run at once).
PARTS = 4


def schedule_for(part: int) -> list[str]:
    """A share of the HTTP fault kinds (``part`` of :data:`PARTS`), each followed by a clean poll.

    The first request (the device authorization) is clean; a clean poll after each fault resets
    the client's back-off, so the schedule takes a few seconds, well inside the code's lifetime.
    """
    out = [fp.PASS]
    for fault in fp.ALL_HTTP_FAULTS[part::PARTS]:
        out += [fault, fp.PASS]
    return out


#: The TLS faults, each on its own new connection, with a clean connection after each.
TLS_SCHEDULE = [fp.PASS, *(x for fault in fp.TLS_FAULTS for x in (fault, fp.PASS))]


@dataclass
class FlowSpec:
    """One sign-in to run through its own proxy.

    ``part`` selects a scheduled flow: over plain HTTP its share of the HTTP faults
    (:func:`schedule_for`), over TLS the TLS faults (:data:`TLS_SCHEDULE`, one connection per
    request); ``None`` means random faults from ``seed``.
    """

    driver: str  # "sync", "async" or "cli"
    transport: str  # "urllib" or "httpx"
    tls: bool
    seed: int
    part: int | None = None

    @property
    def scheduled(self) -> bool:
        return self.part is not None

    @property
    def label(self) -> str:
        mode = f"scheduled-{self.part}" if self.scheduled else "random"
        scheme = "https" if self.tls else "http"
        return f"{self.driver}/{self.transport}/{scheme}/{mode} seed={self.seed}"

    def proxy(self, server: ServerProcess, cert: tuple[Path, Path]) -> fp.FaultProxy:
        """The proxy for this flow (started)."""
        tls = cert if self.tls else None
        if self.part is not None and self.tls:
            return fp.FaultProxy(
                server.port, seed=self.seed, tls=tls, tls_schedule=TLS_SCHEDULE, keep_alive=False
            )
        if self.part is not None:
            return fp.FaultProxy(
                server.port,
                seed=self.seed,
                schedule=schedule_for(self.part),
                delay=DELAY,
                stall=STALL,
            )
        return fp.FaultProxy(
            server.port,
            seed=self.seed,
            rate=RATE,
            tls=tls,
            tls_rate=TLS_RATE if self.tls else 0.0,
            delay=DELAY,
            stall=STALL,
        )


def specs(driver: str, transports: Sequence[str], seed: int) -> list[FlowSpec]:
    """Every flow of one driver, per transport: the scheduled ones (each HTTP fault kind once
    over HTTP, each TLS fault once over TLS) and ``RANDOM_FLOWS`` random ones per scheme."""
    out: list[FlowSpec] = []
    for transport in transports:
        for part in range(PARTS):
            out.append(FlowSpec(driver, transport, False, seed + len(out), part=part))
        out.append(FlowSpec(driver, transport, True, seed + len(out), part=0))
        for tls in (False, True):
            for _ in range(RANDOM_FLOWS):
                out.append(FlowSpec(driver, transport, tls, seed + len(out)))
    return out


def endpoints(proxy: fp.FaultProxy, tenant: str = "contoso") -> Endpoints:
    """RFC 8628 endpoints of the server, reached through ``proxy``."""
    base = f"{proxy.base_url}/{tenant}/oauth2/v2.0"
    return Endpoints(
        device_authorization_url=f"{base}/devicecode",
        token_url=f"{base}/token",
        dialect="rfc8628",
    )


@dataclass
class Outcome:
    """What one flow did."""

    spec: FlowSpec
    proxy: fp.FaultProxy
    error: BaseException | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    elapsed: float = 0.0
    started: bool = False
    extra: list[str] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.error is None and self.access_token is not None

    @property
    def typed(self) -> bool:
        return isinstance(self.error, DeviceFlowError)


class Approver:
    """Approves a flow on the real verification pages, in a thread, once the time is right.

    For a scheduled flow it waits until the proxy has applied the last scheduled fault (so the
    faults land on ``authorization_pending`` polls); for a random flow it approves at once.
    """

    def __init__(self, server: ServerProcess, proxy: fp.FaultProxy, scheduled: bool) -> None:
        self.server = server
        self.proxy = proxy
        self.scheduled = scheduled
        self.status: int | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self, user_code: str) -> None:
        self._thread = threading.Thread(target=self._run, args=(user_code,), daemon=True)
        self._thread.start()

    def _run(self, user_code: str) -> None:
        deadline = time.monotonic() + CODE_LIFETIME
        proxy = self.proxy
        # Approve once the last scheduled fault has been applied (only clean entries are left).
        while self.scheduled and (len(proxy.schedule) > 1 or len(proxy.tls_schedule) > 1):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        try:
            self.status = approve_http(self.server.base_url, user_code)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(CODE_LIFETIME + 10)


def judge(outcome: Outcome) -> list[str]:
    """Problems with ``outcome``; empty when it is allowed.

    Allowed: the flow completed with a working token; or it failed with a ``DeviceFlowError``
    that the faults explain:

    - the device authorization request itself was faulted (``start()`` is not retried: a
      ``TransportError``, or a ``RemoteProtocolError`` for an error page without JSON);
    - ``InvalidGrantError`` after the proxy destroyed the server's 200 token answer (the device
      code was redeemed; the retried poll is refused, as it must be);
    - ``ExpiredTokenError`` once the code's lifetime ran out under back-off.

    A scheduled flow must complete.
    """
    spec, proxy, error = outcome.spec, outcome.proxy, outcome.error
    where = f"{spec.label}: {proxy.summary()}"
    problems = [f"proxy error {e} ({where})" for e in proxy.errors]
    if outcome.completed:
        if not outcome.refresh_token:
            problems.append(f"completed without a refresh token ({where})")
        return problems + outcome.extra
    if error is None:
        return [*problems, f"neither a token nor an error ({where})", *outcome.extra]
    if not isinstance(error, DeviceFlowError):
        return [*problems, f"untyped {type(error).__name__}: {error} ({where})", *outcome.extra]
    if spec.scheduled:
        problems.append(f"scheduled flow failed: {type(error).__name__}: {error} ({where})")
    elif not outcome.started:
        first = proxy.exchanges[0] if proxy.exchanges else None
        start_faulted = first is None or first.fault != fp.PASS
        if not (start_faulted and isinstance(error, TransportError | RemoteProtocolError)):
            problems.append(f"start() failed unexplained: {type(error).__name__} ({where})")
    elif isinstance(error, InvalidGrantError):
        if not any(e.kind == "poll" for e in proxy.lost_successes()):
            problems.append(f"invalid_grant without a lost token answer ({where})")
    elif isinstance(error, ExpiredTokenError):
        if outcome.elapsed < CODE_LIFETIME - 2:
            problems.append(f"expired after only {outcome.elapsed:.1f} s ({where})")
    else:
        problems.append(f"unexplained {type(error).__name__}: {error} ({where})")
    return problems + outcome.extra


def token_works(server: ServerProcess, access_token: str) -> bool:
    """Whether the server accepts ``access_token`` (Graph ``/v1.0/me``, directly)."""
    response = httpx.get(
        f"{server.base_url}/v1.0/me",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=30,
    )
    return response.status_code == 200


def tally(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """The figures of a set of flows (for ``figures.record``)."""
    typed = [o for o in outcomes if o.typed]
    return {
        "flows": len(outcomes),
        "faults_injected": sum(len(o.proxy.injected()) for o in outcomes),
        "completed": sum(o.completed for o in outcomes),
        "failed_typed": len(typed),
        "at_start": sum(not o.started for o in typed),
        "token_answer_lost": sum(isinstance(o.error, InvalidGrantError) for o in typed),
        "expired": sum(isinstance(o.error, ExpiredTokenError) for o in typed),
        "tracebacks": sum(o.error is not None and not o.typed for o in outcomes),
    }
