"""Section 1: pending-poll throughput and latency of token endpoints, driven by ``wrk``.

Every target answers the same request: a form POST polling one pending device code. The ceiling
is :mod:`bench.bare_app` under the same ASGI server; node-oidc-provider joins when Node is here.
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
    target: procs.Target, body: str, *, seconds: float, threads: int, connections: int
) -> WrkResult:
    """``wrk -tT -cC -dS --latency`` with :file:`poll.lua` posting ``body``."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise FileNotFoundError("wrk (apt-get install wrk)")
    command = [
        wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
        "-s", str(procs.HERE / "poll.lua"), target.token_url(),
    ]  # fmt: skip
    env = {**os.environ, "DEVICEFLOW_BENCH_BODY": body}
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return parse_wrk(target.name, out)


def prepare(target: procs.Target, *, threads: int, connections: int) -> str:
    """Start one pending flow on ``target``, check it answers ``authorization_pending``, warm
    it up for a second; the form body to poll with."""
    code = procs.device_code(target) if target.devicecode_path else "bench-code"
    body = urlencode(procs.poll_form(code))
    status, answer = procs.post_form(target.token_url(), procs.poll_form(code))
    if status != 400 or answer.get("error") != "authorization_pending":
        raise RuntimeError(f"{target.name}: a poll did not answer authorization_pending")
    run_wrk(target, body, seconds=1, threads=threads, connections=connections)
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
    """Measure every available target; results and ratios as a JSON-able dict.

    Every server is started first and stays up (an idle one costs nothing); then each round
    runs ``wrk`` against each target in turn, so that a change in the machine's speed over the
    minutes of the run (other tenants of a shared host) falls on every target alike. The best
    round of each target is kept (the least disturbed one).
    """
    targets: list[tuple[str, Callable[[], AbstractContextManager[procs.Target]]]] = [
        ("bare-asgi", lambda: procs.bare_server(folder)),
        (
            "deviceflow-sqlite",
            lambda: procs.deviceflow_server(
                f"sqlite:///{folder / 'bench.sqlite3'}", folder, "sqlite"
            ),
        ),
    ]
    notes: list[str] = []
    if postgres_url is not None:
        targets.append(("deviceflow-postgresql", lambda: _pg_server(folder, postgres_url)))
    else:
        notes.append("PostgreSQL not reachable: skipped")
    if shutil.which("node") and procs.node_modules():
        targets.append(("node-oidc-provider", lambda: procs.node_provider(folder)))
    else:
        notes.append("node or oidc-provider missing: skipped")
    runs: dict[str, list[WrkResult]] = {name: [] for name, _ in targets}
    with ExitStack() as stack:
        started = [(name, stack.enter_context(start())) for name, start in targets]
        bodies = {
            name: prepare(target, threads=threads, connections=connections)
            for name, target in started
        }
        for _ in range(rounds):
            for name, target in started:
                result = run_wrk(
                    target, bodies[name], seconds=seconds, threads=threads, connections=connections
                )
                result.target = name
                runs[name].append(result)
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
        "results": {name: asdict(r) for name, r in results.items()},
        "rounds": {name: [round(r.requests_per_s) for r in found] for name, found in runs.items()},
        "ratios": ratios,
        "notes": notes,
    }


def _pg_server(
    folder: Path, postgres_url: Callable[[], AbstractContextManager[str]]
) -> AbstractContextManager[procs.Target]:
    from contextlib import contextmanager

    @contextmanager
    def started() -> Iterator[procs.Target]:
        with postgres_url() as url, procs.deviceflow_server(url, folder, "postgresql") as target:
            yield target

    return started()
