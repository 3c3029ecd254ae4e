"""``python -m bench.inprocess``: what the server's own code costs per pending poll, no sockets.

The app (``create_app`` with the bench configuration) and the bare ASGI app of
:mod:`bench.bare_app` are called directly, in batches of ``--size`` polls, alternately, for
``--batches`` batches each; the best batch of each is kept. The difference is what deviceflow
adds to the minimum a token endpoint does. Polls go one after another, or ``--concurrent N`` at
a time (as under load, where the batched SQLite poll shares its transaction).

``--storage`` chooses the backend (``sqlite``, ``memory``, or ``postgresql`` on a fresh database
at ``--postgres``); ``--unbatched`` hides the awaitable poll (each poll runs on its own).
``--statements`` measures SQLite's poll statement alone, then twenty in one transaction.
``--access-log`` turns the access log on (INFO, written to ``os.devnull`` through the same
handler and formatter), as ``deviceflow serve``'s default ``--log-level info`` does.
``--tenant`` picks what is polled: ``bench`` (RFC 8628, no ``slow_down`` bookkeeping), ``ms``
(the Microsoft dialect) or ``fleet`` (RFC 8628 with ``slow_down``, one code polled back to
back: a polling storm, every answer ``slow_down``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import bare_app, procs
from bench.unbatched import hide_batched_poll

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TENANTS = {
    "bench": "authorization_pending",  # rfc8628, no slow_down bookkeeping
    "ms": "authorization_pending",  # the Microsoft dialect
    "fleet": "slow_down",  # rfc8628 with slow_down: one code polled back to back (a storm)
}
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def _call(app: App, path: str, body: bytes) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": path, "root_path": "", "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "scheme": "http",
        "http_version": "1.1",
    }  # fmt: skip
    await app(scope, receive, send)
    return sent


async def _batch(app: App, path: str, body: bytes, size: int, concurrent: int) -> float:
    """Microseconds per poll for ``size`` polls, ``concurrent`` at a time."""
    started = time.perf_counter()
    for _ in range(size // concurrent):
        if concurrent == 1:
            await _call(app, path, body)
        else:
            await asyncio.gather(*(_call(app, path, body) for _ in range(concurrent)))
    return (time.perf_counter() - started) / (size // concurrent * concurrent) * 1e6


async def _measure(args: argparse.Namespace, storage_url: str, folder: Path) -> dict[str, float]:
    from deviceflow.server.app import create_app
    from deviceflow.server.settings import Settings
    from deviceflow.server.storage import open_storage

    config = folder / "bench.toml"
    config.write_text(procs.CONFIG, encoding="utf-8")
    if args.unbatched:
        hide_batched_poll()
    storage = open_storage(storage_url)
    try:
        app = create_app(
            Settings.from_toml(config, {}),
            storage=storage,
            clock=time.time,
            rng=secrets.token_bytes,
        )
        start = urlencode({"client_id": procs.CLIENT_ID, "scope": "openid"}).encode()
        answer = await _call(app, f"/{args.tenant}/oauth2/v2.0/devicecode", start)
        code = json.loads(answer[1]["body"])["device_code"]
        body = urlencode(procs.poll_form(code)).encode()
        path = f"/{args.tenant}/oauth2/v2.0/token"
        answer = await _call(app, path, body)
        if args.tenant == "fleet":  # the first poll is on time; the storm starts with the next
            answer = await _call(app, path, body)
        expected = TENANTS[args.tenant].encode()
        if answer[0]["status"] != 400 or expected not in answer[1]["body"]:
            raise RuntimeError(f"a poll did not answer {TENANTS[args.tenant]}: {answer}")
        best = {"bare": float("inf"), "deviceflow": float("inf")}
        for _ in range(args.batches):
            best["bare"] = min(
                best["bare"], await _batch(bare_app.app, "/token", body, args.size, args.concurrent)
            )
            best["deviceflow"] = min(
                best["deviceflow"], await _batch(app, path, body, args.size, args.concurrent)
            )
        return best
    finally:
        aclose = getattr(storage, "aclose", None)
        if aclose is not None:
            await aclose()
        storage.close()


def _statements(folder: Path, runs: int) -> dict[str, float]:
    """SQLite's poll statement (no interval rule: a ``SELECT``): alone, and 20 per transaction."""
    from deviceflow.server.storage.base import DeviceGrant
    from deviceflow.server.storage.sqlite import _CHECK_POLL, SQLiteStorage

    store = SQLiteStorage(folder / "statements.sqlite3")
    now = time.time()
    store.insert_grant(
        DeviceGrant(
            device_hash="d" * 64,
            user_hash="u",
            client_id="c",
            tenant_id="t",
            scopes=("openid",),
            device_ip="127.0.0.1",
            device_user_agent=None,
            created_at=now,
            expires_at=now + 3600,
            interval=5,
        )  # fmt: skip
    )
    cursor: sqlite3.Cursor = store._conn().cursor()
    params = (now, "d" * 64, "c", "t")
    best = {"alone": float("inf"), "20 per transaction": float("inf")}
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(2000):
            cursor.execute(_CHECK_POLL, params).fetchone()
        best["alone"] = min(best["alone"], (time.perf_counter() - started) / 2000 * 1e6)
        started = time.perf_counter()
        for _ in range(100):
            cursor.execute("BEGIN")
            for _ in range(20):
                cursor.execute(_CHECK_POLL, params).fetchone()
            cursor.execute("COMMIT")
        per = (time.perf_counter() - started) / 2000 * 1e6
        best["20 per transaction"] = min(best["20 per transaction"], per)
    store.close()
    return best


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--storage", choices=["sqlite", "memory", "postgresql"], default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--unbatched", action="store_true")
    parser.add_argument("--concurrent", type=int, default=1)
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--statements", action="store_true")
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument("--tenant", choices=sorted(TENANTS), default="bench")
    args = parser.parse_args(argv)
    if args.access_log:  # as `deviceflow serve` installs it at its default --log-level info
        from deviceflow.server import logsafe

        logsafe.install("INFO", open(os.devnull, "w"), LOG_FORMAT)
    with tempfile.TemporaryDirectory(prefix="deviceflow-inprocess-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        if args.statements:
            for name, us in _statements(folder, args.batches).items():
                print(f"SQLite poll statement, {name}: {us:.1f} us each")
            return 0
        if args.storage == "postgresql":
            url = stack.enter_context(procs.postgres_database(args.postgres))
        elif args.storage == "memory":
            url = "memory:"
        else:
            url = f"sqlite:///{folder / 'inprocess.sqlite3'}"
        best = asyncio.run(_measure(args, url, folder))
    path = f"tenant {args.tenant}, " + ("unbatched" if args.unbatched else "as served")
    if args.access_log:
        path += ", access log on"
    print(
        f"{args.storage} ({path}), {args.concurrent} at a time, best of {args.batches} batches"
        f" of {args.size}: bare {best['bare']:.1f} us, deviceflow {best['deviceflow']:.1f} us"
        f" per poll, {best['deviceflow'] - best['bare']:.1f} us more"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
