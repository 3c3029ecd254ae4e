"""Section 1: pending-poll throughput and latency of token endpoints, driven by ``wrk``.

Every target answers the same request: a form POST polling one pending device code. The ceiling
is :mod:`bench.bare_app` under the same ASGI server; node-oidc-provider joins when Node is here.
deviceflow runs as shipped (``deviceflow serve``'s defaults: the access log on) and tuned
(``--log-level warning``), on SQLite and PostgreSQL, in both dialects, and under a polling storm
(one device code polled back to back on a tenant that enforces ``slow_down``): see
:data:`CASES`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench import procs


@dataclass
class WrkResult:
    """One ``wrk`` run against one target."""

    target: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    unexpected: int
    socket_errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(target: str, out: str) -> WrkResult:
    """Read rate, percentiles, request and error counts from ``wrk --latency`` output."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    unexpected = int(re.search(r"unexpected_status: (\d+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
    return WrkResult(target, rate, p50, p99, total, unexpected, socket_errors)


def run_wrk(
    target: procs.Target,
    body: str,
    *,
    seconds: float,
    threads: int,
    connections: int,
    expect: str = "authorization_pending",
) -> WrkResult:
    """``wrk -tT -cC -dS --latency`` with :file:`poll.lua` posting ``body``; every answer other
    than 400 ``expect`` is counted as unexpected."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise FileNotFoundError("wrk (apt-get install wrk)")
    command = [
        wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
        "-s", str(procs.HERE / "poll.lua"), target.token_url(),
    ]  # fmt: skip
    env = {**os.environ, "DEVICEFLOW_BENCH_BODY": body, "DEVICEFLOW_BENCH_EXPECT": expect}
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return parse_wrk(target.name, out)


@dataclass(frozen=True)
class Case:
    """One measured target: a server, the tenant polled there, the answer every poll gets."""

    name: str
    server: str
    tenant: str = "bench"
    expect: str = "authorization_pending"


SHIPPED: tuple[str, ...] = ()
"""``deviceflow serve``'s options as shipped: none (``--log-level info``, the access log on)."""

CASES = (
    # The ceiling first, then deviceflow as shipped, tuned, under a storm; Node last.
    Case("bare-asgi", "bare"),
    Case("sqlite-rfc8628-shipped", "sqlite-shipped"),
    Case("sqlite-microsoft-shipped", "sqlite-shipped", "ms"),
    Case("sqlite-storm-shipped", "sqlite-shipped", "fleet", "slow_down"),
    Case("sqlite-rfc8628-tuned", "sqlite-tuned"),
    Case("sqlite-microsoft-tuned", "sqlite-tuned", "ms"),
    Case("postgresql-rfc8628-shipped", "postgresql-shipped"),
    Case("postgresql-microsoft-shipped", "postgresql-shipped", "ms"),
    Case("postgresql-storm-shipped", "postgresql-shipped", "fleet", "slow_down"),
    Case("postgresql-rfc8628-tuned", "postgresql-tuned"),
    Case("node-oidc-provider", "node"),
)
"""Tenants (:data:`bench.procs.CONFIG`): ``bench`` speaks RFC 8628 without ``slow_down``
bookkeeping (as node-oidc-provider answers), ``ms`` the Microsoft dialect, ``fleet`` RFC 8628
with ``slow_down``: one device code polled back to back there is a polling storm."""


def prepare(target: procs.Target, case: Case, *, threads: int, connections: int) -> str:
    """Start one pending flow on ``target``, check it answers ``case.expect`` (a storm's first
    poll is on time: the second one), warm it up for a second; the form body to poll with."""
    code = procs.device_code(target) if target.devicecode_path else "bench-code"
    body = urlencode(procs.poll_form(code))
    status, answer = procs.post_form(target.token_url(), procs.poll_form(code))
    if case.expect != "authorization_pending":
        status, answer = procs.post_form(target.token_url(), procs.poll_form(code))
    if status != 400 or answer.get("error") != case.expect:
        raise RuntimeError(f"{case.name}: a poll did not answer {case.expect}: {answer}")
    run_wrk(target, body, seconds=1, threads=threads, connections=connections, expect=case.expect)
    return body


def run(
    folder: Path,
    *,
    postgres_url: Callable[[], AbstractContextManager[str]] | None,
    seconds: float,
    rounds: int,
    threads: int = 2,
    connections: int = 64,
) -> dict[str, object]:
    """Measure every available case; results and ratios as a JSON-able dict.

    Every server is started first and stays up (an idle one costs nothing); then each round
    runs ``wrk`` against each case in turn, so that a change in the machine's speed over the
    minutes of the run (other tenants of a shared host) falls on every case alike. The best
    round of each case is kept, and every round's rate (the report's same-round ratios).
    Servers' resident memory is read once they answer and again after the last round.
    """
    sqlite = f"sqlite:///{folder / 'bench.sqlite3'}"
    servers: dict[str, Callable[[], AbstractContextManager[procs.Target]]] = {
        "bare": lambda: procs.bare_server(folder),
        "sqlite-shipped": lambda: procs.deviceflow_server(
            sqlite, folder, "sqlite-shipped", options=SHIPPED
        ),
        "sqlite-tuned": lambda: procs.deviceflow_server(sqlite, folder, "sqlite-tuned"),
    }
    notes: list[str] = []
    if postgres_url is not None:
        servers["postgresql-shipped"] = lambda: _pg_server(folder, postgres_url, SHIPPED)
        servers["postgresql-tuned"] = lambda: _pg_server(folder, postgres_url, procs.TUNED)
    else:
        notes.append("PostgreSQL not reachable: skipped")
    if shutil.which("node") and procs.node_modules():
        servers["node"] = lambda: procs.node_provider(folder)
    else:
        notes.append("node or oidc-provider missing: skipped")
    cases = [case for case in CASES if case.server in servers]
    runs: dict[str, list[WrkResult]] = {case.name: [] for case in cases}
    memory: dict[str, dict[str, float]] = {}
    with ExitStack() as stack:
        started = {name: stack.enter_context(start()) for name, start in servers.items()}
        for name, server in started.items():
            memory[name] = {"started_mib": procs.rss_mib(server.pid)}
        targets = {
            case.name: started[case.server]
            if case.server in ("bare", "node")
            else procs.tenant(started[case.server], case.tenant)
            for case in cases
        }
        bodies = {
            case.name: prepare(targets[case.name], case, threads=threads, connections=connections)
            for case in cases
        }
        for _ in range(rounds):
            for case in cases:
                result = run_wrk(
                    targets[case.name],
                    bodies[case.name],
                    seconds=seconds,
                    threads=threads,
                    connections=connections,
                    expect=case.expect,
                )
                result.target = case.name
                runs[case.name].append(result)
        for name, server in started.items():
            memory[name]["after_rounds_mib"] = procs.rss_mib(server.pid)
    results = {name: max(found, key=lambda r: r.requests_per_s) for name, found in runs.items()}
    for name, found in runs.items():  # wrong answers and socket errors: counted over every round
        best = results[name] = dataclasses.replace(results[name])
        best.unexpected = sum(r.unexpected for r in found)
        best.socket_errors = sum(r.socket_errors for r in found)
    ceiling = results["bare-asgi"].requests_per_s
    node = results.get("node-oidc-provider")
    ratios = {}
    for name, result in results.items():
        ratios[name] = {
            "of_ceiling": result.requests_per_s / ceiling,
            "vs_node": result.requests_per_s / node.requests_per_s if node else None,
        }
    return {
        "wrk": {
            "threads": threads,
            "connections": connections,
            "seconds": seconds,
            "rounds": rounds,
            "order": "interleaved: each round runs every target once, in the order listed",
        },
        "cases": {case.name: asdict(case) for case in cases},
        "results": {name: asdict(r) for name, r in results.items()},
        "rounds": {name: [round(r.requests_per_s) for r in found] for name, found in runs.items()},
        "ratios": ratios,
        "memory": memory,
        "notes": notes,
    }


def _pg_server(
    folder: Path,
    postgres_url: Callable[[], AbstractContextManager[str]],
    options: tuple[str, ...],
) -> AbstractContextManager[procs.Target]:
    from contextlib import contextmanager

    name = "postgresql-" + ("tuned" if options else "shipped")

    @contextmanager
    def started() -> Iterator[procs.Target]:
        with (
            postgres_url() as url,
            procs.deviceflow_server(url, folder, name, options=options) as target,
        ):
            yield target

    return started()
