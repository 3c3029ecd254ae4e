"""Section 2: a fleet of pending devices, each polling at the advertised interval with jitter.

The load generator is asyncio in this process: every device is a task that starts its flow,
then polls ``interval * uniform(1, 1 + jitter)`` seconds after each answer until the run
ends. Requests go
over a pool of keep-alive connections, as a load balancer in front of the server would send
them. Latency runs from the moment a poll is due (waiting for a free connection included) to the
last byte of the answer. Anything but ``400 authorization_pending`` counts as an error.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from bench import procs


@dataclass
class FleetStats:
    """What the fleet saw."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Connections:
    """A fixed pool of HTTP/1.1 keep-alive connections to one loopback port."""

    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self.size = size
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def close(self) -> None:
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """One request on an idle connection; status and body."""
        reader, writer = await self.idle.get()
        try:
            writer.write(
                b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            payload = await reader.readexactly(length)
        except BaseException:
            writer.close()
            self.idle.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))
            raise
        self.idle.put_nowait((reader, writer))
        return status, payload


async def _start_flows(pool: Connections, path: str, n: int) -> list[str]:
    body = urlencode({"client_id": procs.CLIENT_ID, "scope": "openid"}).encode()
    codes: list[str] = []

    async def one() -> None:
        import json

        status, payload = await pool.post(path, body)
        if status != 200:
            raise RuntimeError(f"device authorization failed: HTTP {status}")
        codes.append(json.loads(payload)["device_code"])

    for start in range(0, n, 500):
        await asyncio.gather(*(one() for _ in range(min(500, n - start))))
    return codes


async def _device(
    pool: Connections,
    path: str,
    code: str,
    *,
    interval: float,
    jitter: float,
    start: float,
    end: float,
    rng: random.Random,
    stats: FleetStats,
) -> None:
    body = urlencode(procs.poll_form(code)).encode()
    due = start + rng.uniform(0, interval)  # devices were switched on at different moments
    while True:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if due >= end:
            return
        try:
            status, payload = await pool.post(path, body)
        except (OSError, asyncio.IncompleteReadError) as exc:
            stats.error(type(exc).__name__)
        else:
            if status == 400 and b'"authorization_pending"' in payload:
                stats.latencies.append(time.perf_counter() - due)
            else:
                stats.error(f"HTTP {status} {payload[:40]!r}")
        # As a device does (RFC 8628 §3.5): the interval runs from the answer it got.
        due = time.perf_counter() + interval * rng.uniform(1.0, 1.0 + jitter)


async def simulate(
    target: procs.Target,
    *,
    devices: int,
    interval: float,
    seconds: float,
    jitter: float,
    connections: int,
    seed: int,
) -> dict[str, object]:
    """Start ``devices`` flows on the ``fleet`` tenant, then let them poll for ``seconds``."""
    port = int(target.base_url.rsplit(":", 1)[1])
    pool = Connections(port, connections)
    await pool.open()
    try:
        t0 = time.perf_counter()
        codes = await _start_flows(pool, "/fleet/oauth2/v2.0/devicecode", devices)
        setup_s = time.perf_counter() - t0
        rng = random.Random(seed)
        stats = FleetStats()
        start = time.perf_counter()
        cpu0 = procs.cpu_seconds(target.pid)
        end = start + seconds
        await asyncio.gather(
            *(
                _device(
                    pool,
                    "/fleet/oauth2/v2.0/token",
                    code,
                    interval=interval,
                    jitter=jitter,
                    start=start,
                    end=end,
                    rng=rng,
                    stats=stats,
                )  # fmt: skip
                for code in codes
            )
        )
        elapsed = time.perf_counter() - start
        cpu = procs.cpu_seconds(target.pid) - cpu0
    finally:
        await pool.close()
    lat = sorted(stats.latencies)
    n = len(lat)

    def pct(q: float) -> float:
        return lat[min(n - 1, int(q * n))] * 1000 if n else float("nan")

    expected = devices * seconds / (interval * (1 + jitter / 2))
    return {
        "devices": devices,
        "interval_s": interval,
        "jitter": jitter,
        "seconds": seconds,
        "connections": connections,
        "setup_s": setup_s,
        "polls": n,
        "poll_rate": n / elapsed,
        "expected_rate": expected / seconds,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": lat[-1] * 1000 if n else float("nan"),
        "mean_ms": statistics.fmean(lat) * 1000 if n else float("nan"),
        "errors": sum(stats.errors.values()),
        "error_kinds": stats.errors,
        "server_cpu_s": cpu,
        "server_cpu_share_of_one_core": cpu / elapsed,
    }
