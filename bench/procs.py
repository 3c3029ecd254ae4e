"""Processes the benchmarks start (servers, the Node baseline) and the little HTTP they need.

Every process is started here, watched by PID, and stopped by that PID with SIGTERM (then
SIGKILL) when its ``with`` block ends.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CLIENT_ID = "bench-device"
CLK_TCK = os.sysconf("SC_CLK_TCK")

CONFIG = f"""
interval = 5

[lifetimes]
device_code = 3600

# The fleet starts tens of thousands of flows from one address in a minute.
[rate_limits]
device_authorizations_per_ip = 1000000
device_authorizations_per_client = 1000000

# Pending polls as node-oidc-provider answers them: no slow_down bookkeeping.
[[tenants]]
id = "bench"
name = "Bench"
dialect = "rfc8628"
slow_down = false

# The Microsoft dialect (the seed's case): Entra's error bodies, no slow_down.
[[tenants]]
id = "ms"
name = "Microsoft"
dialect = "microsoft"

# The fleet and the polling storm: RFC 8628 as written, slow_down enforced.
[[tenants]]
id = "fleet"
name = "Fleet"
dialect = "rfc8628"

[[clients]]
client_id = "{CLIENT_ID}"
name = "Bench device"
scopes = ["openid", "offline_access"]
"""


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``.

    Raises:
        TimeoutError: nothing did within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on port {port}") from None
            time.sleep(0.05)


def tree(pid: int) -> list[int]:
    """``pid`` and its living descendants (``deviceflow serve --workers N``: its workers)."""
    found, todo = [], [pid]
    while todo:
        one = todo.pop()
        found.append(one)
        try:
            children = Path(f"/proc/{one}/task/{one}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(child) for child in children)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its living descendants (Linux
    ``/proc``)."""
    total = 0
    for one in tree(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


@dataclass
class Target:
    """A running HTTP server under test."""

    name: str
    base_url: str
    token_path: str
    devicecode_path: str
    pid: int

    def token_url(self) -> str:
        return self.base_url + self.token_path


@contextmanager
def process(
    command: Sequence[str], *, ready: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the block ends; wait for ``ready`` in its output first."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(command), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env
        )
    try:
        deadline = time.monotonic() + 60
        while ready not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start: {log.read_text()[-1500:]}")
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


TUNED = ("--log-level", "warning")
"""What a tuned server adds to ``deviceflow serve``'s defaults (``docs/deployment.md``)."""


@contextmanager
def deviceflow_server(
    db_url: str,
    folder: Path,
    name: str,
    *,
    module: str = "deviceflow",
    options: Sequence[str] = TUNED,
) -> Iterator[Target]:
    """``deviceflow serve`` with the bench configuration on ``db_url`` and ``options`` (``()``:
    as shipped, the access log on; ``python -m module``: :mod:`bench.unbatched` serves without
    the batched poll, for the A/B). The target's paths are the ``bench`` tenant's
    (:func:`tenant`)."""
    config = folder / "bench.toml"
    config.write_text(CONFIG, encoding="utf-8")
    port = free_port()
    command = [
        sys.executable, "-m", module, "serve", "--port", str(port),
        "--config", str(config), "--db", db_url, *options,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICEFLOW_")}
    with process(command, ready="listening on", log=folder / f"{name}.log", env=env) as proc:
        yield Target(
            name, f"http://127.0.0.1:{port}", "/bench/oauth2/v2.0/token",
            "/bench/oauth2/v2.0/devicecode", proc.pid,
        )  # fmt: skip


def tenant(target: Target, tenant_id: str) -> Target:
    """``target`` (a ``deviceflow serve``) through another tenant's endpoints."""
    return dataclasses.replace(
        target,
        token_path=f"/{tenant_id}/oauth2/v2.0/token",
        devicecode_path=f"/{tenant_id}/oauth2/v2.0/devicecode",
    )


def rss_mib(pid: int) -> float:
    """Resident memory now of a process and its living descendants, MiB, summed (Linux
    ``/proc``; pages forked workers share are counted in each: an upper bound)."""
    total = 0.0
    for one in tree(pid):
        try:
            status = Path(f"/proc/{one}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total or float("nan")


@contextmanager
def bare_server(folder: Path) -> Iterator[Target]:
    """The bare ASGI ceiling (:mod:`bench.bare_app`)."""
    port = free_port()
    command = [sys.executable, "-m", "bench.bare_app", str(port)]
    with process(command, ready="listening on", log=folder / "bare.log") as proc:
        wait_port(port)
        yield Target("bare", f"http://127.0.0.1:{port}", "/token", "", proc.pid)


def node_modules() -> Path | None:
    """The folder holding ``oidc-provider`` (installed by ``scripts/node-deps``), if any."""
    folder = ROOT / ".cache" / "node" / "node_modules"
    return folder if (folder / "oidc-provider" / "package.json").is_file() else None


@contextmanager
def node_provider(folder: Path) -> Iterator[Target]:
    """node-oidc-provider with the device flow (:file:`bench/oidc_provider.mjs`)."""
    node, modules = shutil.which("node"), node_modules()
    if node is None or modules is None:
        raise FileNotFoundError("node or the oidc-provider package (scripts/node-deps)")
    shutil.copy(HERE / "oidc_provider.mjs", folder / "oidc_provider.mjs")
    link = folder / "node_modules"
    if not link.exists():
        link.symlink_to(modules, target_is_directory=True)
    port = free_port()
    env = {**os.environ, "PORT": str(port), "NODE_ENV": "production"}
    command = [node, str(folder / "oidc_provider.mjs")]
    with process(command, ready="listening on", log=folder / "node.log", env=env) as proc:
        yield Target("node", f"http://127.0.0.1:{port}", "/token", "/device/auth", proc.pid)


def post_form(url: str, form: dict[str, str]) -> tuple[int, dict[str, object]]:
    """POST a form to a loopback URL; the status and the JSON body."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(
            "POST", "/" + path, urlencode(form),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        response = conn.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body else {}
    finally:
        conn.close()


def device_code(target: Target, tenant_path: str | None = None) -> str:
    """Start one device flow on ``target``; its device code."""
    path = target.devicecode_path if tenant_path is None else tenant_path
    status, body = post_form(target.base_url + path, {"client_id": CLIENT_ID, "scope": "openid"})
    if status != 200:
        raise RuntimeError(f"{target.name}: device authorization failed: HTTP {status}")
    return str(body["device_code"])


def poll_form(code: str) -> dict[str, str]:
    return {"grant_type": DEVICE_GRANT, "client_id": CLIENT_ID, "device_code": code}


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh ``deviceflow_bench_<random>`` database (dropped afterwards); its URL."""
    import psycopg

    name = f"deviceflow_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f"CREATE DATABASE {name}".encode())
        try:
            yield admin_url.rpartition("/")[0] + "/" + name
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())
