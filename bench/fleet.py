"""Section 2: a fleet of pending devices, each polling at the advertised interval with jitter.

The load comes from ``workers`` separate processes (:func:`worker_main`), each owning an equal
share of the devices and a few keep-alive connections, as a load balancer in front of the server
would hold them. A worker is one event loop (uvloop when installed) with one timer per device and
a bare HTTP/1.1 protocol: no task, stream or parser per request, so a worker issues thousands of
polls a second on a fraction of a core and the server, not the generator, is what is measured.

Schedule: every device is switched on at a random moment of the first interval, then polls
``interval * uniform(1, 1 + jitter)`` seconds after each answer (RFC 8628 §3.5: the interval
runs from the answer). Latency runs from the moment a poll was *due* to the last byte of its
answer, so a generator or a server that falls behind shows up as latency, never as silently
fewer requests; how late polls left the generator is reported separately (``send_lag``).
Anything but ``400 authorization_pending`` counts as an error, and so does a lost connection.
Traffic goes to 127.0.0.1 only; every worker stops at the end time it was given.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from bench import procs

_DEVICE_PATH = "/fleet/oauth2/v2.0/devicecode"
_TOKEN_PATH = "/fleet/oauth2/v2.0/token"


class _Conn(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time."""

    def __init__(
        self, on_answer: Callable[[_Conn, int, bytes], None], on_lost: Callable[[_Conn], None]
    ) -> None:
        self.on_answer = on_answer
        self.on_lost = on_lost
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.buffer = b""
        self.device = -1
        self.due = 0.0
        self.sent = 0.0
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[:head_end]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        end = head_end + 4 + length
        if len(self.buffer) < end:
            return
        status = int(head.split(b" ", 2)[1])
        body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
        self.on_answer(self, status, body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.on_lost(self)


async def _post_all(port: int, bodies: list[bytes], path: str, connections: int) -> list[bytes]:
    """POST every body (over ``connections`` keep-alive connections); the answers in order."""
    answers: list[bytes] = [b""] * len(bodies)
    todo = deque(range(len(bodies)))
    done = asyncio.get_running_loop().create_future()
    remaining = [len(bodies)]

    def send(conn: _Conn) -> None:
        if not todo:
            return
        conn.device = i = todo.popleft()
        assert conn.transport is not None
        conn.transport.write(_request(path, bodies[i]))

    def on_answer(conn: _Conn, status: int, body: bytes) -> None:
        if status != 200:
            done.set_exception(RuntimeError(f"device authorization failed: HTTP {status}"))
            return
        answers[conn.device] = body
        remaining[0] -= 1
        if remaining[0] == 0 and not done.done():
            done.set_result(None)
        send(conn)

    def on_lost(conn: _Conn) -> None:
        if not done.done():
            done.set_exception(RuntimeError("connection lost while starting flows"))

    conns = []
    loop = asyncio.get_running_loop()
    for _ in range(min(connections, len(bodies)) or 1):
        _, conn = await loop.create_connection(lambda: _Conn(on_answer, on_lost), "127.0.0.1", port)
        conns.append(conn)
    for conn in conns:
        send(conn)
    if bodies:
        await done
    for conn in conns:
        conn.on_lost = lambda c: None
        if conn.transport is not None:
            conn.transport.close()
    return answers


def _request(path: str, body: bytes) -> bytes:
    return (
        b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
    )


async def _worker(args: dict[str, Any]) -> dict[str, object]:
    port, devices, connections = int(args["port"]), int(args["devices"]), int(args["connections"])
    interval, jitter = float(args["interval"]), float(args["jitter"])
    seconds = float(args["seconds"])
    rng = random.Random(int(args["seed"]))
    loop = asyncio.get_running_loop()
    start_body = urlencode({"client_id": procs.CLIENT_ID, "scope": "openid"}).encode()
    answers = await _post_all(port, [start_body] * devices, _DEVICE_PATH, connections)
    requests = [
        _request(_TOKEN_PATH, urlencode(procs.poll_form(json.loads(a)["device_code"])).encode())
        for a in answers
    ]
    print("ready", flush=True)
    start_wall = float(sys.stdin.readline())
    start = loop.time() + (start_wall - time.time())
    end = start + seconds
    latencies: list[float] = []
    lags: list[float] = []
    late: list[tuple[float, float]] = []  # (due, seconds into the run; latency ms) past 50 ms
    errors: dict[str, int] = {}
    waiting: deque[tuple[int, float]] = deque()
    idle: deque[_Conn] = deque()
    in_flight = [0]
    finished = loop.create_future()

    def error(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    def send(conn: _Conn, device: int, due: float) -> None:
        assert conn.transport is not None
        conn.device, conn.due, conn.busy = device, due, True
        conn.sent = loop.time()
        lags.append(conn.sent - due)
        in_flight[0] += 1
        conn.transport.write(requests[device])

    def fire(device: int, due: float) -> None:
        if idle:
            send(idle.popleft(), device, due)
        else:
            waiting.append((device, due))

    def schedule(device: int, due: float) -> None:
        if due < end:
            loop.call_at(due, fire, device, due)

    def free(conn: _Conn) -> None:
        if conn.busy:
            conn.busy = False
            in_flight[0] -= 1
        if conn.transport is None:
            pass
        elif waiting:
            send(conn, *waiting.popleft())
        else:
            idle.append(conn)
        if loop.time() >= end and in_flight[0] == 0 and not finished.done():
            finished.set_result(None)

    def on_answer(conn: _Conn, status: int, body: bytes) -> None:
        now = loop.time()
        if status == 400 and b'"authorization_pending"' in body:
            latencies.append(now - conn.due)
            if now - conn.due > 0.05:
                late.append((round(conn.due - start, 2), round((now - conn.due) * 1000, 1)))
        else:
            error(f"HTTP {status} {body[:40]!r}")
        # As a device does (RFC 8628 §3.5): the interval runs from the answer it got.
        schedule(conn.device, now + interval * rng.uniform(1.0, 1.0 + jitter))
        free(conn)

    def on_lost(conn: _Conn) -> None:
        if conn.busy:
            error("connection lost")
            schedule(conn.device, loop.time() + interval)
        if conn in idle:
            idle.remove(conn)
        free(conn)
        if loop.time() < end:
            loop.create_task(connect())

    conns: list[_Conn] = []

    async def connect() -> None:
        _, conn = await loop.create_connection(lambda: _Conn(on_answer, on_lost), "127.0.0.1", port)
        conns.append(conn)
        free(conn)

    for _ in range(connections):
        await connect()
    for device in range(devices):
        schedule(device, start + rng.uniform(0.0, interval))
    cpu0 = time.process_time()
    await asyncio.sleep(max(0.0, end - loop.time()))
    if in_flight[0]:
        try:
            await asyncio.wait_for(finished, timeout=30.0)
        except asyncio.TimeoutError:
            error("unanswered at the end")
    cpu = time.process_time() - cpu0
    for conn in conns:
        conn.on_lost = lambda c: None
        if conn.transport is not None:
            conn.transport.close()
    return {
        "latencies_ms": [round(x * 1000, 3) for x in latencies],
        "send_lag_ms": [round(x * 1000, 3) for x in lags],
        "errors": errors,
        "late": late,
        "cpu_s": cpu,
    }


def worker_main() -> None:
    """``python -m bench.fleet WORKER_JSON``: one load process (see :func:`simulate`)."""
    args = json.loads(sys.argv[1])
    try:
        import uvloop

        result = uvloop.run(_worker(args))
    except ImportError:
        result = asyncio.run(_worker(args))
    # os.write until done: under PYTHONUNBUFFERED a single large write to a pipe can be short.
    view = memoryview((json.dumps(result) + "\n").encode())
    while view:
        view = view[os.write(sys.stdout.fileno(), view) :]


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _late_by_second(parts: list[dict[str, Any]]) -> dict[int, int]:
    """How many polls answered more than 50 ms after they were due, by second of the run."""
    counts: dict[int, int] = {}
    for part in parts:
        for due, _ms in part["late"]:
            counts[int(due)] = counts.get(int(due), 0) + 1
    return dict(sorted(counts.items()))


def simulate(
    target: procs.Target,
    *,
    devices: int,
    interval: float,
    seconds: float,
    jitter: float,
    workers: int = 2,
    connections: int = 64,
    seed: int,
) -> dict[str, object]:
    """Start ``devices`` flows on the ``fleet`` tenant, then let them poll for ``seconds``.

    Returns:
        Achieved and due poll rates, latency percentiles from the due time, send lag, errors,
        the CPU the server and the generator used, and the server's resident memory with every
        flow pending (before the first poll, and at the end; ``server_rss_mib``: the larger).
    """
    port = int(target.base_url.rsplit(":", 1)[1])
    shares = [devices // workers + (1 if i < devices % workers else 0) for i in range(workers)]
    started = time.perf_counter()
    children = []
    for i, share in enumerate(shares):
        spec = {
            "port": port, "devices": share, "connections": max(1, connections // workers),
            "interval": interval, "jitter": jitter, "seconds": seconds, "seed": seed + i,
        }  # fmt: skip
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "bench.fleet", json.dumps(spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=procs.ROOT,
                text=True,
            )  # fmt: skip
        )
    try:
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"a fleet worker did not start its flows: {line!r}")
        setup_s = time.perf_counter() - started
        rss_pending = procs.rss_mib(target.pid)  # every flow started, none polled yet
        begin = time.time() + 0.5
        cpu0 = procs.cpu_seconds(target.pid)
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{begin!r}\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=seconds + 90)[0] for child in children]
        elapsed = time.time() - begin
        cpu = procs.cpu_seconds(target.pid) - cpu0
        rss_end = procs.rss_mib(target.pid)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    parts = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    lat = sorted(x for p in parts for x in p["latencies_ms"])
    lag = sorted(x for p in parts for x in p["send_lag_ms"])
    errors: dict[str, int] = {}
    for p in parts:
        for kind, n in p["errors"].items():
            errors[kind] = errors.get(kind, 0) + n
    n = len(lat)
    expected_rate = devices / (interval * (1 + jitter / 2))
    return {
        "devices": devices,
        "interval_s": interval,
        "jitter": jitter,
        "seconds": seconds,
        "workers": workers,
        "connections": connections,
        "setup_s": setup_s,
        "polls": n,
        # Every answered poll was due inside the window of ``seconds``: the rate over that
        # window (``elapsed`` also holds the workers' start-up answer and exit).
        "poll_rate": n / seconds,
        "elapsed_s": elapsed,
        "expected_rate": expected_rate,
        "p50_ms": _pct(lat, 0.50),
        "p90_ms": _pct(lat, 0.90),
        "p99_ms": _pct(lat, 0.99),
        "max_ms": lat[-1] if lat else float("nan"),
        "mean_ms": statistics.fmean(lat) if lat else float("nan"),
        "send_lag_p50_ms": _pct(lag, 0.50),
        "send_lag_p99_ms": _pct(lag, 0.99),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "late_by_second": _late_by_second(parts),
        "server_cpu_s": cpu,
        "server_rss_mib": max(rss_pending, rss_end),
        "server_rss_pending_mib": rss_pending,
        "server_rss_end_mib": rss_end,
        "server_cpu_share_of_one_core": cpu / seconds,
        "generator_cpu_share_of_one_core": sum(float(p["cpu_s"]) for p in parts) / seconds,
    }


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    worker_main()
