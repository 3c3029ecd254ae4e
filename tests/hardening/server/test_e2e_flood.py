"""A device-authorization flood against a real ``deviceflow serve``, on SQLite and PostgreSQL
(issue 12: 300 requests with a 1 MiB User-Agent grew the database by 300 MiB in 3 s, and their
grants stayed stored for good).

Each run floods ``/devicecode`` from one address twice: with 1 MiB User-Agents (refused whole
by the 32 KiB head limit) and with 30 KiB ones (just under it: the per-address limit admits the
first 120, whose User-Agents are stored clipped). The database's growth is measured, then the
test waits (with a deadline, not a timed assertion) for the server's own purge to delete every
grant once it has expired: the device codes live 2 s and expired rows are kept 1 s, purged
every second.
"""

from __future__ import annotations

import collections
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from deviceflow.server.grant._bounds import USER_AGENT_CHARS
from deviceflow.server.settings import RateLimits
from tests.hardening import figures
from tests.hardening.server.conftest import LogTally
from tests.hardening.server.test_e2e_crashes import database
from tests.support.config import write_config
from tests.support.serverproc import CLIENT_ID, PASSWORD, ServerProcess, e2e_config
from tests.support.storage_rows import stored_rows

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("hardening-flood")]

MIB = 1024 * 1024
FLOOD = 300
FORM = f"client_id={CLIENT_ID}&scope=openid+offline_access".encode()
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
AREA = "Device-authorization flood (300 requests from one address)"


def answers(statuses: collections.Counter[str]) -> str:
    """``"120× 200, 180× 429"``: how many of each answer, by status."""
    return ", ".join(f"{n}× {status}" for status, n in sorted(statuses.items()))


@pytest.fixture(params=["sqlite", "postgresql"])
def flooded_server(
    request: pytest.FixtureRequest, tmp_path: Path, log_tally: LogTally
) -> Iterator[tuple[str, str, ServerProcess]]:
    kind: str = request.param
    with ExitStack() as stack:
        url = stack.enter_context(database(kind, tmp_path))
        config = {
            **e2e_config(device_code_lifetime=2, interval=1),
            "purge_interval": 1,
            "lifetimes": {"device_code": 2, "expired_retention": 1},
        }
        server = ServerProcess(folder=tmp_path, config=write_config(tmp_path, config), db_url=url)
        server.remember(PASSWORD)
        server.start()
        try:
            yield kind, url, server
        finally:
            assert server.stop() == 0
            assert not server.tracebacks(), server.tracebacks()
            assert not server.leaked(), server.leaked()
            log_tally.lines += server.log_lines()
            log_tally.secrets |= server.secrets


def database_bytes(kind: str, url: str) -> int:
    """What the database holds: SQLite's pages (its WAL included, however far checkpointed),
    or PostgreSQL's grant table with its indexes and TOAST."""
    if kind == "sqlite":
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            return int(pages * conn.execute("PRAGMA page_size").fetchone()[0])
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_total_relation_size('device_grants')").fetchone()
    assert row is not None
    return int(row[0])


def raw_devicecode(port: int, user_agent: bytes) -> str:
    """One device authorization on a fresh connection; the status, or "closed"."""
    head = (
        b"POST /contoso/oauth2/v2.0/devicecode HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
        b"content-type: application/x-www-form-urlencoded\r\n"
        b"content-length: %d\r\nuser-agent: %s\r\n\r\n" % (len(FORM), user_agent)
    )
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        try:
            s.sendall(head + FORM)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the whole head went out
        try:
            answer = s.recv(64)
        except ConnectionResetError:
            answer = b""
    return answer[9:12].decode() if answer.startswith(b"HTTP/1.1 ") else "closed"


def longest_stored_user_agent(kind: str, url: str) -> int:
    query = "SELECT coalesce(max(length(device_user_agent)), 0) FROM device_grants"
    if kind == "sqlite":
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return int(conn.execute(query).fetchone()[0])
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(query.encode()).fetchone()
    assert row is not None
    return int(row[0])


def test_device_authorization_flood_is_bounded_and_purged(
    flooded_server: tuple[str, str, ServerProcess],
) -> None:
    kind, url, server = flooded_server
    label = LABELS[kind]
    start = database_bytes(kind, url)

    # 1 MiB User-Agents: refused by the head limit before the app sees them.
    huge = collections.Counter(raw_devicecode(server.port, b"x" * MIB) for _ in range(FLOOD))
    assert set(huge) <= {"431", "closed"}, huge
    assert stored_rows(url)["device_grants"] == 0
    figures.record(
        AREA,
        f"1 MiB User-Agents (over the 32 KiB head limit), {label}",
        requests=FLOOD,
        answers=answers(huge),
        grants_stored=0,
        db_growth_kib=round((database_bytes(kind, url) - start) / 1024),
    )

    # 30 KiB User-Agents: the address's first requests get flows, stored clipped; then 429.
    before = database_bytes(kind, url)
    statuses: collections.Counter[str] = collections.Counter()
    longest = 0  # read after the first flow, before its 2 s lifetime lets the purge take it
    with httpx.Client(base_url=server.base_url, timeout=20) as client:
        for _ in range(FLOOD):
            response = client.post(
                "/contoso/oauth2/v2.0/devicecode",
                content=FORM,
                headers={
                    "content-type": "application/x-www-form-urlencoded",
                    "user-agent": "TV/1.0 " + "x" * (30 * 1024),
                },
            )
            statuses[str(response.status_code)] += 1
            if response.status_code == 200:
                server.remember(response.json()["device_code"], response.json()["user_code"])
                if not longest:
                    longest = longest_stored_user_agent(kind, url)
            else:
                assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    accepted = statuses["200"]
    assert accepted == RateLimits().device_authorizations_per_ip
    assert 0 < longest <= USER_AGENT_CHARS
    grown = database_bytes(kind, url) - before
    assert grown < MIB  # was 30 KiB a flow: over 3.5 MiB for 120 flows alone

    # The server's purge deletes every grant once it has expired (2 s, plus 1 s kept).
    deadline = time.monotonic() + 60
    while stored_rows(url)["device_grants"] and time.monotonic() < deadline:
        time.sleep(0.2)
    left = stored_rows(url)
    assert left["device_grants"] == 0 and left["refresh_tokens"] == 0
    figures.record(
        AREA,
        f"30 KiB User-Agents, {label}",
        requests=FLOOD,
        answers=answers(statuses),
        grants_stored=accepted,
        db_growth_kib=round(grown / 1024),
        longest_user_agent_stored=longest,
        grants_left_after_purge=left["device_grants"],
    )
