"""``deviceflow serve --workers N``: one port answered by N processes, as one server.

Real ``deviceflow serve`` subprocesses. Which worker answered a request shows in its
``X-Request-Id`` (each process numbers its requests under a prefix of its own); a request on a
new connection lands on a worker the kernel picks (``SO_REUSEPORT``), so a run of them reaches
both workers.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deviceflow.cli.errors import EXIT_NETWORK, EXIT_SERVER, EXIT_USAGE
from deviceflow.server.workers import WorkersError, check
from tests.e2e.server.flows import start_flow
from tests.e2e.server.test_e2e_serve_startup import assert_one_clean_error, serve
from tests.support.pages import csrf_of
from tests.support.postgres import fresh_database
from tests.support.serverproc import CLIENT_ID, DEVICE_GRANT, PASSWORD, USERNAME, e2e_server
from tests.support.tools import free_port

pytestmark = [pytest.mark.e2e]


def _fresh(server_url: str) -> httpx.Client:
    """A client that opens a new connection per request (so the kernel picks a worker each
    time)."""
    return httpx.Client(
        base_url=server_url, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
    )


def _worker_of(response: httpx.Response) -> str:
    return response.headers["x-request-id"].rpartition("-")[0]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return sorted(int(child) for child in path.read_text().split()) if path.exists() else []


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield ""
        return
    with fresh_database() as url:  # skips (fails in CI) when PostgreSQL is not there
        yield url


def test_two_workers_serve_one_flow_between_them(tmp_path: Path, db_url: str) -> None:
    server = e2e_server(tmp_path, db_url=db_url)
    server.args = ("--workers", "2", "--log-level", "warning")
    server.start()
    try:
        out = server.stdout
        assert out.count("listening on") == 1, out  # one ready block, not one per worker
        assert server.process is not None
        workers = _children(server.process.pid)
        assert len(workers) == 2
        assert f"workers: 2 processes (pids {workers[0]} {workers[1]})" in out
        flow = start_flow(server)
        form = {"grant_type": DEVICE_GRANT, "device_code": flow["device_code"]}
        seen: set[str] = set()
        with _fresh(server.base_url) as device:
            for _ in range(40):  # both workers now know the flow is pending
                answer = device.post(
                    "/contoso/oauth2/v2.0/token", data={**form, "client_id": CLIENT_ID}
                )
                assert answer.json()["error"] in ("authorization_pending", "slow_down")
                seen.add(_worker_of(answer))
                if len(seen) == 2:
                    break
            assert len(seen) == 2, "the kernel sent every connection to one worker"
            # The person's pages, each step on a new connection: the session and its CSRF
            # token made by one worker hold on the other.
            with _fresh(server.base_url) as person:
                page = person.get("/devicelogin")
                entered = person.post(
                    "/devicelogin",
                    data={"csrf_token": csrf_of(page.text), "code": flow["user_code"]},
                )
                signed = person.post(
                    "/devicelogin/signin",
                    data={"csrf_token": csrf_of(entered.text), "code": flow["user_code"],
                          "username": USERNAME, "password": PASSWORD},
                )  # fmt: skip
                decided = person.post(
                    "/devicelogin/decide",
                    data={"csrf_token": csrf_of(signed.text), "code": flow["user_code"],
                          "decision": "approve"},
                )  # fmt: skip
                assert decided.status_code == 200, decided.text
            # Whichever worker the next poll reaches, the approval is there: the one that
            # answered pending from memory learns it from the change log.
            deadline = time.monotonic() + 10
            issued = None
            while issued is None and time.monotonic() < deadline:
                answer = device.post(
                    "/contoso/oauth2/v2.0/token", data={**form, "client_id": CLIENT_ID}
                )
                if answer.status_code == 200:
                    issued = answer
                else:
                    assert answer.json()["error"] in ("authorization_pending", "slow_down")
                    time.sleep(0.2)
            assert issued is not None and issued.json()["access_token"]
            # The code is spent, on every worker.
            for _ in range(6):
                again = device.post(
                    "/contoso/oauth2/v2.0/token", data={**form, "client_id": CLIENT_ID}
                )
                assert again.status_code == 400 and again.json()["error"] != "authorization_pending"
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server._log(server.starts, "stderr").read_text()


def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    server = e2e_server(tmp_path)
    server.args = ("--workers", "2")
    server.start()
    assert server.process is not None
    parent = server.process.pid
    first = _children(parent)
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = _children(parent)
        if len(now) == 2 and first[0] not in now:
            break
        time.sleep(0.1)
    now = _children(parent)
    assert len(now) == 2 and first[0] not in now and first[1] in now
    with _fresh(server.base_url) as client:  # both workers answer again
        seen = set()
        for _ in range(40):
            answer = client.get("/contoso/v2.0/.well-known/openid-configuration")
            assert answer.status_code == 200
            seen.add(_worker_of(answer))
            if len(seen) == 2:
                break
        assert len(seen) == 2
    assert server.stop() == 0
    for pid in now:  # the workers are gone too, not orphaned
        assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)
    err = server._log(server.starts, "stderr").read_text()
    assert f"worker 0 (pid {first[0]}) died" in err
    assert "Traceback" not in err


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (OSError, IndexError):
        return "zombie"


def test_a_killed_parent_takes_its_workers_with_it(tmp_path: Path) -> None:
    server = e2e_server(tmp_path)
    server.args = ("--workers", "2")
    server.start()
    assert server.process is not None
    workers = _children(server.process.pid)
    server.kill()  # SIGKILL: the parent runs no code; Linux's parent-death signal stops them
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_workers_refusals_are_one_clean_line(tmp_path: Path) -> None:
    port = str(free_port())
    line = assert_one_clean_error(serve(tmp_path, "--db", "memory:", "--workers", "0"), EXIT_USAGE)
    assert "--workers: between 1 and 64, not 0" in line
    # The development setup serves the test-control API, whose state lives in one process.
    line = assert_one_clean_error(serve(tmp_path, "--port", port, "--workers", "2"), EXIT_USAGE)
    assert "test-control" in line and "--workers 1" in line
    config = e2e_server(tmp_path).config
    result = serve(
        tmp_path, "--config", str(config), "--db", "memory:", "--metrics", "--workers", "2"
    )
    line = assert_one_clean_error(result, EXIT_USAGE)
    assert "metrics" in line and "--workers 1" in line


def test_a_port_held_by_other_workers_is_in_use(tmp_path: Path) -> None:
    # Another server's SO_REUSEPORT sockets would let a second one join them silently: refused.
    config = e2e_server(tmp_path).config
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = serve(
            tmp_path,
            "--config",
            str(config),
            "--db",
            "memory:",
            "--port",
            str(port),
            "--workers",
            "2",
        )
    line = assert_one_clean_error(result, EXIT_NETWORK)
    assert f"cannot listen on 127.0.0.1:{port}" in line


def test_check_accepts_one_worker_with_anything() -> None:
    check(1, test_control=True, metrics=True)
    check(4, test_control=False, metrics=False)
    with pytest.raises(WorkersError, match="between 1 and 64"):
        check(65, test_control=False, metrics=False)


def test_a_database_that_cannot_open_stops_the_server_before_any_worker(tmp_path: Path) -> None:
    config = e2e_server(tmp_path).config
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    db = f"sqlite:///{blocked}/db.sqlite3"
    result = serve(tmp_path, "--config", str(config), "--db", db, "--workers", "2")
    line = assert_one_clean_error(result, EXIT_SERVER)
    assert "unable to open database file" in line
    assert "listening on" not in result.stdout


def test_a_worker_that_keeps_dying_stops_the_server(tmp_path: Path) -> None:
    # The database goes away under a running server; a worker killed then cannot start again.
    import psycopg

    from tests.support.postgres import admin_url

    with fresh_database() as url:
        server = e2e_server(tmp_path, db_url=url)
        server.args = ("--workers", "2")
        server.start()
        assert server.process is not None
        process = server.process
        name = url.rpartition("/")[2]
        with psycopg.connect(admin_url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)".encode())
        os.kill(_children(process.pid)[0], signal.SIGKILL)
        code = process.wait(60)  # five restarts a second apart, then the stop
        server.process = None
    assert code == EXIT_SERVER
    err = server._log(server.starts, "stderr").read_text()
    assert "deviceflow serve: worker 0 died 5 times in a row, each within 10 s of starting" in err
    assert "Traceback" not in err
