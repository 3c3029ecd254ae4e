"""The real CLI in subprocesses against ``deviceflow serve`` on loopback, approved in Chromium."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.cli.harness import Cli, approve, read_event
from tests.support.serverproc import ServerProcess, e2e_server, serving

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cli-e2e")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with serving(e2e_server(tmp_path_factory.mktemp("cli-server"))) as proc:
        yield proc


def sign_in(cli: Cli, browser: Any, *extra: str) -> list[dict[str, Any]]:
    """``login --json``, approve in Chromium; return every event."""
    proc = cli.start("login", "--json", "--timeout", "60", *extra)
    assert proc.stdout is not None
    try:
        code = read_event(proc.stdout)
        approve(browser, code["verification_uri_complete"])
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # pragma: no cover - only on failure
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return [code, *(json.loads(line) for line in out.splitlines() if line.strip())]


def test_cli_login_token_me_graph_accounts_logout(
    server: ServerProcess, browser: Any, tmp_path: Path
) -> None:
    cli = Cli(server, tmp_path)
    events = sign_in(cli, browser)
    code, last = events[0], events[-1]
    assert code["event"] == "code"
    assert set(code) == {
        "event",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
        "message",
    }
    assert code["user_code"] in code["verification_uri_complete"]
    assert 0 < code["expires_in"] <= 600
    assert {e["event"] for e in events[1:-1]} <= {"pending", "slow_down", "retrying"}
    assert last["event"] == "signed_in"
    assert last["name"] == "Erin Example"
    assert last["username"] == "erin@contoso.example"
    assert isinstance(last["expires_on"], int)

    token = cli.run("token")
    assert token.returncode == 0, token.stderr
    access = token.stdout.strip()
    assert "\n" not in access and len(access) > 20
    check = httpx.get(f"{server.base_url}/v1.0/me", headers={"Authorization": f"Bearer {access}"})
    assert check.status_code == 200

    me = cli.run("me")
    assert me.returncode == 0, me.stderr
    assert "Name:      Erin Example" in me.stdout
    me_json = cli.run("me", "--json")
    assert json.loads(me_json.stdout)["displayName"] == "Erin Example"

    graph = cli.run("graph", "GET", "/v1.0/me")
    assert graph.returncode == 0, graph.stderr
    assert json.loads(graph.stdout)["mail"] == "erin@contoso.example"

    accounts = cli.run("accounts")
    assert accounts.returncode == 0
    assert accounts.stdout.startswith("default\tErin Example <erin@contoso.example>\t")
    listed = json.loads(cli.run("accounts", "--json").stdout)
    assert [a["profile"] for a in listed] == ["default"]

    logout = cli.run("logout")
    assert logout.returncode == 0, logout.stderr
    assert "Signed out of Erin Example" in logout.stderr
    # Revoked at the endpoint the issuer's discovery names (tests/e2e/cli/test_e2e_logout.py).
    assert "and revoked the sign-in at the server" in logout.stderr
    assert not (cli.cache / "default.json").exists()
    after = cli.run("token")
    assert after.returncode == 3
    assert "deviceflow login" in after.stderr
    assert after.stdout == ""


def test_cli_login_denied_exits_4(server: ServerProcess, browser: Any, tmp_path: Path) -> None:
    cli = Cli(server, tmp_path)
    proc = cli.start("login", "--json", "--timeout", "60")
    assert proc.stdout is not None
    code = read_event(proc.stdout)
    approve(browser, code["verification_uri_complete"], deny=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    last = json.loads(out.splitlines()[-1])
    assert last["event"] == "error"
    assert last["error"] in ("access_denied", "authorization_declined")
    assert "Traceback" not in err


def test_cli_login_expired_code_exits_5(tmp_path: Path) -> None:
    folder = tmp_path / "server"
    folder.mkdir()
    with serving(e2e_server(folder, device_code_lifetime=3)) as short:
        cli = Cli(short, tmp_path)
        result = cli.run("login", "--json", timeout=60)
    assert result.returncode == 5, result.stderr
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["event"] == "error"
    assert last["error"] in ("expired_token", "code_expired")
    assert "Traceback" not in result.stderr


def test_cli_ten_concurrent_token_calls_refresh_once(
    server: ServerProcess, browser: Any, tmp_path: Path
) -> None:
    cli = Cli(server, tmp_path)
    sign_in(cli, browser)
    path = cli.cache / "default.json"
    data = json.loads(path.read_text())
    for token in data["access_tokens"]:
        token["expires_at"] = 0
    path.write_text(json.dumps(data))
    old_refresh = data["refresh_token"]

    procs = [cli.start("token", "--debug") for _ in range(10)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 10, [err[-500:] for _, err in results]
    tokens = {out.strip() for out, _ in results}
    assert len(tokens) == 1
    refreshes = sum(err.count("grant_type=refresh_token") for _, err in results)
    assert refreshes == 1
    (access,) = tokens
    check = httpx.get(f"{server.base_url}/v1.0/me", headers={"Authorization": f"Bearer {access}"})
    assert check.status_code == 200
    saved = json.loads(path.read_text())
    assert saved["refresh_token"] and saved["refresh_token"] != old_refresh
    # Secrets never appear in the debug output.
    assert all(access not in err and old_refresh not in err for _, err in results)


def test_cli_debug_never_prints_secrets_and_bad_usage_exits_2(
    server: ServerProcess, tmp_path: Path
) -> None:
    cli = Cli(server, tmp_path)
    result = cli.run("graph")
    assert result.returncode == 2
    result = cli.run("me")
    assert result.returncode == 3
    assert "not signed in" in result.stderr


def test_cli_network_error_exits_6(tmp_path: Path) -> None:
    from tests.support.tools import free_port

    env_server = ServerProcess(folder=tmp_path, config=tmp_path / "none.toml", port=free_port())
    cli = Cli(env_server, tmp_path)
    result = cli.run("login", "--json")
    assert result.returncode == 6, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["error"] == "network_error"
    assert isinstance(result, subprocess.CompletedProcess)
