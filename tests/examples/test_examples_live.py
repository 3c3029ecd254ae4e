"""The examples for real: ``deviceflow login --json | python examples/custom_display.py`` against
a real ``deviceflow serve``, the person reading the code off the "LCD" and approving it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from deviceflow.server.settings._development import DEMO_CLIENT_ID
from tests.e2e.cli.harness import Cli, read_event
from tests.support.config import write_config
from tests.support.pages import approve_over_http
from tests.support.serverproc import (
    PASSWORD,
    USERNAME,
    ServerProcess,
    e2e_config,
    e2e_server,
    serving,
)
from tests.support.tools import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("examples-live")]

EXAMPLES = ROOT / "examples"
BORDER = "+" + "-" * 20 + "+"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with serving(e2e_server(tmp_path_factory.mktemp("examples-server"))) as proc:
        yield proc


def next_frame(screen: IO[str]) -> list[str]:
    """The rows of the next screen the display draws (between two borders)."""
    line = screen.readline()
    assert line.rstrip("\n") == BORDER, f"not a frame: {line!r}"
    rows: list[str] = []
    while (line := screen.readline().rstrip("\n")) != BORDER:
        assert line.startswith("|") and line.endswith("|") and len(line) == 22, line
        rows.append(line[1:-1].rstrip())
    return rows


def test_custom_display_shows_the_address_and_code_until_signed_in(
    server: ServerProcess, tmp_path: Path
) -> None:
    cli = Cli(server, tmp_path)
    login = subprocess.Popen(
        cli.command("login", "--json", "--timeout", "60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=cli.env,
        cwd=ROOT,
    )
    assert login.stdout is not None
    display = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "custom_display.py")],
        stdin=login.stdout,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    login.stdout.close()  # the display owns the pipe now
    assert display.stdout is not None
    try:
        first = next_frame(display.stdout)
        address = f"{server.base_url}/devicelogin".split("://", 1)[1]
        assert len(address) > 20
        code_row = next(row for row in first if row.startswith("Code: "))
        user_code = code_row.removeprefix("Code: ")
        where = first[: first.index(code_row)]
        assert "".join(where) == address  # wrapped, not cut
        assert first[-1].startswith("Expires in")
        # Polls go on: every later screen still shows where to go and what to type.
        for _ in range(2):
            frame = next_frame(display.stdout)
            assert frame == [*where, code_row, "Waiting for you..."], frame
        decided = approve_over_http(
            server.base_url, user_code, username=USERNAME, password=PASSWORD
        )
        assert decided.status_code == 200, decided.text
        frames = [next_frame(display.stdout)]
        while frames[-1][0] != "Welcome,":
            assert frames[-1][: len(where) + 1] == [*where, code_row], frames[-1]
            frames.append(next_frame(display.stdout))
        assert frames[-1][1] == "Erin Example"
        assert display.wait(30) == 0
        assert login.wait(30) == 0
    finally:
        for proc in (login, display):
            if proc.poll() is None:  # pragma: no cover - only on failure
                proc.kill()
                proc.wait()
        display.stdout.close()


# -- examples/presence_light.py ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server shaped like ``serve``'s development setup: the demo client id, a Microsoft
    tenant answering to ``organizations`` (our test user instead of the demo users)."""
    folder = tmp_path_factory.mktemp("presence-light-server")
    config: dict[str, Any] = e2e_config()
    config["tenants"] = [
        {"id": "demo", "name": "deviceflow demo", "dialect": "microsoft",
         "aliases": ["organizations", "common"]},
    ]  # fmt: skip
    config["clients"][0]["client_id"] = DEMO_CLIENT_ID
    config["users"][0]["tenant"] = "demo"
    server = ServerProcess(folder=folder, config=write_config(folder, config))
    with serving(server) as proc:
        yield proc


def documented_serve_block() -> tuple[dict[str, str], list[str], list[str]]:
    """The example's "against your own deviceflow serve" commands: variables, login, light."""
    doc = (EXAMPLES / "presence_light.py").read_text().split('"""')[1]
    block = doc.split("Against your own ``deviceflow serve --port 8765``")[1].split("::\n\n")[1]
    lines = [line.strip() for line in block.split("\n\n")[0].splitlines()]
    env = dict(
        line.removeprefix("export ").split("=", 1) for line in lines if line[:7] == "export "
    )
    login = next(shlex.split(line) for line in lines if line.startswith("deviceflow login"))
    light = next(shlex.split(line) for line in lines if line.startswith("python "))
    return env, login, light


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A new user's environment: their own home, no deviceflow or XDG settings."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("DEVICEFLOW_", "XDG_"))}
    return {**kept, "HOME": str(home), "PYTHONUNBUFFERED": "1", **extra}


def run_light(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "presence_light.py"), *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip


def test_presence_light_signed_out_says_how_to_sign_in(tmp_path: Path) -> None:
    signed_out = run_light(clean_env(tmp_path), "--once")
    assert signed_out.returncode == 3, signed_out.stderr
    assert "Traceback" not in signed_out.stderr and "SignInRequiredError" not in signed_out.stderr
    assert "presence light: not signed in (profile 'default')" in signed_out.stderr
    assert (
        'deviceflow login --client-id ID --scope "openid profile offline_access User.Read'
        ' Presence.Read"' in signed_out.stderr
    )
    assert signed_out.stdout == ""
    configured = run_light(clean_env(tmp_path, DEVICEFLOW_CLIENT_ID="x", DEVICEFLOW_PROFILE="lamp"))
    assert configured.returncode == 3
    assert (
        'deviceflow login --profile lamp --scope "openid profile offline_access User.Read'
        ' Presence.Read"\n' in configured.stderr
    )


def test_presence_light_documented_commands_work(
    demo_server: ServerProcess, tmp_path: Path
) -> None:
    variables, login, light = documented_serve_block()
    port = str(demo_server.port)
    env = clean_env(tmp_path, **{k: v.replace("8765", port) for k, v in variables.items()})
    assert login[0] == "deviceflow" and light[:2] == ["python", "examples/presence_light.py"]
    assert "openid profile" in login[login.index("--scope") + 1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "deviceflow", *login[1:], "--json", "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        code = read_event(proc.stdout)
        decided = approve_over_http(
            demo_server.base_url, code["user_code"], username=USERNAME, password=PASSWORD
        )
        assert decided.status_code == 200, decided.text
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # pragma: no cover - only on failure
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    signed_in = [json.loads(line) for line in out.splitlines() if line.strip()][-1]
    assert signed_in["name"] == "Erin Example"
    shown = run_light(env, *light[2:], "--once")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "presence light: following Erin Example <erin@contoso.example>",
        "light: green",
    ]
    logout = subprocess.run(
        [sys.executable, "-m", "deviceflow", "logout"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert logout.returncode == 0, logout.stderr
    after = run_light(env, "--once")
    assert after.returncode == 3 and "Traceback" not in after.stderr
    assert 'deviceflow login --scope "openid profile' in after.stderr
