"""``deviceflow serve`` as a user runs it: start-up failures, the address it announces, its log.

Each case runs the real command in a subprocess and checks the one line it prints, its exit code
on the CLI's table (README "Exit codes": 2 usage or configuration, 6 network, 7 server) and that
no traceback reaches the user.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deviceflow.cli.errors import EXIT_NETWORK, EXIT_SERVER, EXIT_USAGE
from tests.support.config import write_config
from tests.support.postgres import admin_url, fresh_database
from tests.support.serverproc import ServerProcess, e2e_config
from tests.support.tools import free_port

pytestmark = [pytest.mark.e2e]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVICEFLOW_", "XDG_"))}
    return {**env, "HOME": str(home), "PYTHONUNBUFFERED": "1"}


def serve(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "deviceflow", "serve", "--log-level", "warning", *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=_env(home), cwd=home, timeout=timeout
    )


def assert_one_clean_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The run failed with ``code``, printing no traceback; returns its error line."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("deviceflow serve:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_serve_config_error_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('[[tenants]]\nid = "x"\ndialect = "nope"\n')
    line = assert_one_clean_error(serve(tmp_path, "--config", str(config)), EXIT_USAGE)
    assert "configuration error: tenants[0].dialect" in line


def test_serve_port_in_use_exits_6(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = serve(tmp_path, "--db", "memory:", "--port", str(port))
    line = assert_one_clean_error(result, EXIT_NETWORK)
    assert f"cannot listen on 127.0.0.1:{port}" in line


def test_serve_unsupported_db_scheme_names_the_supported_ones(tmp_path: Path) -> None:
    result = serve(tmp_path, "--db", "mysql://root:hunter2@x/db", "--port", str(free_port()))
    line = assert_one_clean_error(result, EXIT_USAGE)
    assert "unsupported database URL 'mysql'" in line
    assert "sqlite:///PATH" in line and "postgresql://" in line
    assert "hunter2" not in result.stderr  # the rest of the URL may hold a password


def test_serve_missing_postgres_database_fails_at_once_naming_it(tmp_path: Path) -> None:
    with fresh_database():  # skips (fails in CI) when PostgreSQL is not there
        pass
    base = admin_url().rpartition("/")[0]
    result = serve(tmp_path, "--db", f"{base}/deviceflow_absent", "--port", str(free_port()))
    line = assert_one_clean_error(result, EXIT_USAGE)
    assert 'database "deviceflow_absent" does not exist' in line
    assert "createdb" in line and "deviceflow_absent" in line.partition("createdb")[2]
    # Refused for good: no connection pool retrying it (its warnings) before giving up.
    assert "error connecting" not in result.stderr


def test_serve_unreachable_postgres_exits_6(tmp_path: Path) -> None:
    url = f"postgresql://deviceflow@127.0.0.1:{free_port()}/deviceflow"
    line = assert_one_clean_error(serve(tmp_path, "--db", url, "--port", str(free_port())), 6)
    assert "cannot reach PostgreSQL on 127.0.0.1" in line and "Connection refused" in line


def test_serve_database_that_cannot_be_opened_exits_7(tmp_path: Path) -> None:
    db = tmp_path / "no-such-folder" / "x.sqlite3"  # SQLite creates files, not folders
    result = serve(tmp_path, "--db", f"sqlite:///{db}", "--port", str(free_port()))
    line = assert_one_clean_error(result, EXIT_SERVER)
    assert f"database error (sqlite:///{db})" in line


def test_serve_announces_the_address_it_listens_on_and_public_url_apart(tmp_path: Path) -> None:
    public = "http://127.0.0.1:8771"
    config = write_config(tmp_path, {**e2e_config(), "public_url": public})
    server = ServerProcess(folder=tmp_path, config=config)  # waits for its own address
    server.start()
    try:
        lines = server.stdout.splitlines()
    finally:
        assert server.stop() == 0
    assert f"deviceflow server listening on http://127.0.0.1:{server.port}" in lines
    assert f"public URL (in issuers and links): {public}" in lines
    assert f"tenant contoso (rfc8628): issuer {public}/contoso/v2.0" in lines


@pytest.fixture
def background_server(tmp_path: Path) -> Iterator[tuple[subprocess.CompletedProcess[str], int]]:
    port = free_port()
    result = serve(tmp_path, "--db", "memory:", "--port", str(port), "--log-level", "info",
                   "--log-file", "serve.log", "--background")  # fmt: skip
    pids = [int(w.rstrip(")")) for w in result.stdout.split() if w.rstrip(")").isdigit()]
    try:
        yield result, port
    finally:
        for pid in pids[-1:]:  # the PID the command printed: the server it started
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def test_serve_background_returns_once_listening_and_logs_only_to_its_file(
    tmp_path: Path, background_server: tuple[subprocess.CompletedProcess[str], int]
) -> None:
    result, port = background_server
    assert result.returncode == 0, result.stderr
    # What the user needs at start reaches the terminal: the demo users, the address, the PID.
    out = result.stdout
    assert "user: adele  password: adele-password" in out
    assert f"deviceflow server listening on http://127.0.0.1:{port}" in out
    assert "running in the background (pid " in out and "stop it with: kill " in out
    # It listens already (no race with the next command), and logs each request to the file.
    url = f"http://127.0.0.1:{port}/demo/v2.0/.well-known/openid-configuration"
    assert httpx.get(url).status_code == 200
    log = tmp_path / "serve.log"
    deadline = time.monotonic() + 10
    while "openid-configuration 200" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "GET /demo/v2.0/.well-known/openid-configuration 200" in log.read_text()


def test_serve_foreground_log_file_takes_the_request_log(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "deviceflow", "serve", "--db", "memory:",
               "--port", str(port), "--log-file", str(tmp_path / "serve.log")]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path)
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("deviceflow serve: test-control API on")
        assert proc.stdout.readline() == f"deviceflow server listening on http://127.0.0.1:{port}\n"
        httpx.get(f"http://127.0.0.1:{port}/demo/v2.0/.well-known/openid-configuration")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "openid-configuration" not in err + out
    assert (
        "GET /demo/v2.0/.well-known/openid-configuration 200"
        in (tmp_path / "serve.log").read_text()
    )


def test_serve_background_needs_a_log_file(tmp_path: Path) -> None:
    line = assert_one_clean_error(serve(tmp_path, "--background"), EXIT_USAGE)
    assert "--background needs --log-file FILE" in line
