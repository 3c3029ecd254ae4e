"""Server under crashes: ``kill -9`` of ``deviceflow serve`` in the middle of load.

Two device threads run complete flows (authorize, approve over the pages, poll, refresh) against
a real server on 127.0.0.1 while it is killed with SIGKILL at a random moment, then restarted on
the same database. Everything a client had been *told* before the kill must still hold: pending
flows can be approved and redeemed, approved ones redeemed, issued access tokens verify against
the JWKS and at ``/v1.0/me``, the last refresh token of each session refreshes, users still sign
in. Requests that were in flight at the kill are uncertain and only must not yield a 5xx. After
the last restart the store passes an integrity check (``PRAGMA integrity_check`` for SQLite).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hardening import figures
from tests.hardening.server.conftest import LogTally
from tests.hardening.server.harness import scaled
from tests.hardening.server.realserver import (
    approve,
    device_code_form,
    refresh_form,
    verify_with_jwks,
)
from tests.support.serverproc import CLIENT_ID, PASSWORD, ServerProcess, e2e_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("hardening-server-crashes")]

SCOPE = "openid offline_access User.Read"
KILLS = scaled(2, 20)


class Flow:
    """What one device was told so far; ``uncertain`` while a request is in flight."""

    def __init__(self) -> None:
        self.stage = "new"  # new -> issued -> approved -> redeemed
        self.uncertain = False
        self.device_code = self.user_code = ""
        self.access: list[str] = []
        self.refresh: str | None = None


def run_device(server: ServerProcess, flows: list[Flow], stop: threading.Event) -> None:
    """Complete flows one after another until ``stop`` or the first connection failure."""
    base = server.base_url
    with httpx.Client(base_url=base, timeout=5) as http:
        while not stop.is_set() and len(flows) < 40:
            flow = Flow()
            flows.append(flow)
            try:
                flow.uncertain = True
                body = http.post(
                    "/contoso/oauth2/v2.0/devicecode", data={"client_id": CLIENT_ID, "scope": SCOPE}
                ).json()
                flow.device_code, flow.user_code = body["device_code"], body["user_code"]
                server.remember(flow.device_code, flow.user_code)
                flow.stage, flow.uncertain = "issued", False
                if stop.is_set() or len(flows) % 3 == 0:
                    continue  # left pending: it must still complete after the crash
                flow.uncertain = True
                assert approve(base, flow.user_code).status_code == 200
                flow.stage, flow.uncertain = "approved", False
                flow.uncertain = True
                tokens = http.post(
                    "/contoso/oauth2/v2.0/token", data=device_code_form(flow.device_code)
                ).json()
                server.remember(
                    tokens["access_token"], tokens["refresh_token"], tokens.get("id_token")
                )
                flow.access.append(tokens["access_token"])
                flow.refresh = tokens["refresh_token"]
                flow.stage, flow.uncertain = "redeemed", False
                flow.uncertain = True
                tokens = http.post(
                    "/contoso/oauth2/v2.0/token", data=refresh_form(flow.refresh)
                ).json()
                server.remember(
                    tokens["access_token"], tokens["refresh_token"], tokens.get("id_token")
                )
                flow.access.append(tokens["access_token"])
                flow.refresh = tokens["refresh_token"]
                flow.uncertain = False
            except (httpx.HTTPError, KeyError, AssertionError, ValueError):
                return  # the server died under us: this flow stays uncertain


def seed(server: ServerProcess) -> list[Flow]:
    """Before the load: one pending, one approved and one redeemed flow, known for sure."""
    flows: list[Flow] = []
    for stage in ("issued", "approved", "redeemed"):
        flow = Flow()
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            body = http.post(
                "/contoso/oauth2/v2.0/devicecode", data={"client_id": CLIENT_ID, "scope": SCOPE}
            ).json()
            flow.device_code, flow.user_code = body["device_code"], body["user_code"]
            server.remember(flow.device_code, flow.user_code)
            flow.stage = "issued"
            if stage != "issued":
                assert approve(server.base_url, flow.user_code).status_code == 200
                flow.stage = "approved"
        if stage == "redeemed":
            assert check_flow(server, flow, {"keys": []}, verify=False)
        flows.append(flow)
    return flows


def check_flow(
    server: ServerProcess, flow: Flow, jwks: dict[str, Any], *, verify: bool = True
) -> bool:
    """Whether everything ``flow`` was told still holds after the restart."""
    base = server.base_url
    with httpx.Client(base_url=base, timeout=10) as http:
        if flow.stage == "issued":
            if approve(base, flow.user_code).status_code != 200:
                return False
            flow.stage = "approved"
        if flow.stage == "approved":
            response = http.post(
                "/contoso/oauth2/v2.0/token", data=device_code_form(flow.device_code)
            )
            if response.status_code != 200:
                return False
            tokens = response.json()
            server.remember(tokens["access_token"], tokens["refresh_token"])
            flow.access.append(tokens["access_token"])
            flow.refresh = tokens["refresh_token"]
            flow.stage = "redeemed"
        for token in flow.access if verify else ():
            me = http.get("/v1.0/me", headers={"Authorization": f"Bearer {token}"})
            if me.status_code != 200 or not verify_with_jwks(token, jwks):
                return False
        if flow.refresh is not None:
            response = http.post("/contoso/oauth2/v2.0/token", data=refresh_form(flow.refresh))
            if response.status_code != 200:
                return False
            tokens = response.json()
            server.remember(tokens["access_token"], tokens["refresh_token"])
            flow.refresh = tokens["refresh_token"]
    return True


def probe_uncertain(server: ServerProcess, flow: Flow) -> int:
    """An uncertain flow may have gone either way; the server must still answer it cleanly."""
    if not flow.device_code:
        return 200
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        return http.post(
            "/contoso/oauth2/v2.0/token", data=device_code_form(flow.device_code)
        ).status_code


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'deviceflow.sqlite3'}"
        return
    from tests.support.postgres import fresh_database

    with fresh_database() as url:
        yield url


def integrity(kind: str, url: str) -> str:
    if kind == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()]  # fmt: skip
        for table in tables:
            conn.execute(f'SELECT count(*) FROM "{table}"'.encode()).fetchone()
    return "ok"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_under_load_loses_nothing(kind: str, tmp_path: Path, log_tally: LogTally) -> None:
    rng = random.Random()
    with ExitStack() as stack:
        url = stack.enter_context(database(kind, tmp_path))
        server = e2e_server(tmp_path, interval=1, db_url=url)
        server.remember(PASSWORD)
        server.start()
        every: list[Flow] = []
        verified: set[int] = set()
        lost = uncertain = 0
        for _ in range(KILLS):
            flows = seed(server)
            stop = threading.Event()
            threads = [
                threading.Thread(target=run_device, args=(server, flows, stop)) for _ in range(2)
            ]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0.5, 2.5))
            server.kill()
            stop.set()
            for thread in threads:
                thread.join(30)
            server.start()
            jwks = httpx.get(f"{server.base_url}/contoso/discovery/v2.0/keys").json()
            every.extend(flows)
            for flow in every:
                if flow.uncertain:
                    uncertain += 1
                    assert probe_uncertain(server, flow) < 500
                    flow.uncertain = False
                    flow.stage = "done"
                    continue
                if flow.stage == "done":
                    continue
                verified.add(id(flow))
                if not check_flow(server, flow, jwks):  # again after every later kill too
                    lost += 1
        assert integrity(kind, url) == "ok"
        assert server.stop() == 0
        assert not server.tracebacks()
        assert not server.leaked(), server.leaked()
        log_tally.lines += server.log_lines()
        log_tally.secrets |= server.secrets
    checked = len(verified)
    assert lost == 0
    assert checked >= 3 * KILLS
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    figures.record(
        "Server under crashes",
        f"kill -9 under load, {label}",
        kills=KILLS,
        flows_checked=checked,
        in_flight_at_kill=uncertain,
        lost=lost,
        integrity_check="ok",
    )
