"""``deviceflow agent`` for real: a short idle window, a dead refresh token, every notifier.

One server (refresh tokens idle out after 4 s) and one profile walk through the acceptance
story in order: the agent keeps the profile alive across several idle windows; stopped longer
than the window, it re-links on its own (the code reaches a webhook, a mosquitto broker, an SMTP
server and a command hook; Chromium approves); SIGKILL in the middle of refreshes loses nothing.
"""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli.harness import CLIENT_ID, Cli, approve, read_event
from tests.e2e.cli.services import (
    approve_code,
    mosquitto,
    server_config,
    smtp_server,
    wait_for,
    webhook,
)
from tests.support.serverproc import ServerProcess
from tests.support.tools import ROOT, chromium_browser

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cli-e2e")]

IDLE = 4  # seconds a refresh token lives unused


class Agent:
    """A running ``deviceflow agent`` whose stderr lines are collected by a thread."""

    def __init__(self, cli: Cli, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            cli.command("agent", *args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**cli.env, **(env or {})},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def wait_line(self, text: str, timeout: float = 30, times: int = 1) -> None:
        try:
            wait_for(lambda: self.count(text) >= times, timeout, f"{text!r} x{times}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the agent said: {self.lines}") from None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        try:
            code = self.process.wait(15)
        finally:
            if self.process.poll() is None:  # pragma: no cover - only when stopping failed
                self.process.kill()
                self.process.wait()
            self._reader.join(5)
            assert self.process.stderr is not None
            self.process.stderr.close()
        return code


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("agent-server")
    config = server_config(folder, lifetimes=f"refresh_token = {IDLE}")
    proc = ServerProcess(folder=folder, config=config)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def cli(server: ServerProcess, browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A profile signed in to the Microsoft-dialect tenant."""
    cli = Cli(server, tmp_path_factory.mktemp("agent-device"), tenant="fabrikam")
    cli.env["DEVICEFLOW_SCOPE"] += " Presence.Read"  # for the presence light
    proc = cli.start("login", "--json", "--timeout", "60")
    assert proc.stdout is not None
    code = read_event(proc.stdout)
    approve(browser, code["verification_uri_complete"])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return cli


class SystemdSocket:
    """A notify socket like systemd's, read by a thread (``messages``)."""

    def __init__(self, folder: Path) -> None:
        self.path = str(folder / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self.open = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while self.open:
            try:
                self.messages += self.sock.recv(4096).decode().splitlines()
            except TimeoutError:
                continue

    def close(self) -> list[str]:
        time.sleep(0.3)  # the last datagrams
        self.open = False
        self.thread.join(5)
        self.sock.close()
        return self.messages


def test_agent_keeps_profile_alive_across_idle_windows(cli: Cli, tmp_path: Path) -> None:
    systemd = SystemdSocket(tmp_path)
    env = {"NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "1000000"}
    agent = Agent(cli, "--keepalive", "1", env=env)
    light = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "presence_light.py"), "--interval", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )
    try:
        # Three idle windows: without the agent the refresh token would have died twice over.
        agent.wait_line("refreshed", timeout=3 * IDLE + 10, times=3 * IDLE)
        assert light.poll() is None  # the light ran beside the agent all along
        status = json.loads(cli.run("status", "--json").stdout)
        assert status["agent_running"] and status["agent_pid"] == agent.process.pid
        assert status["last_refresh_at"] and status["next_refresh_at"]
        second = cli.run("agent")  # one agent per profile
        assert second.returncode == 2 and "already runs" in second.stderr
    finally:
        assert agent.stop() == 0
        light.terminate()
        shown, light_errors = light.communicate(timeout=15)
    following, first_colour = shown.splitlines()[:2]
    assert following == "presence light: following Erin Example <erin@fabrikam.example>"
    assert first_colour == "light: green", light_errors
    assert "Traceback" not in light_errors
    assert any("stopped" in line for line in agent.lines)
    assert not any("sign-in is needed" in line for line in agent.lines)
    messages = systemd.close()
    assert "READY=1" in messages and "WATCHDOG=1" in messages and "STOPPING=1" in messages
    assert any(m.startswith("STATUS=next refresh at") for m in messages)
    # The refresh token is still good: token refreshes with it at once.
    token = cli.run("token", "--min-validity", "1000000")
    assert token.returncode == 0, token.stderr
    assert json.loads(cli.run("status", "--json").stdout)["agent_running"] is False


def test_agent_relinks_a_dead_profile_through_every_notifier(
    cli: Cli, server: ServerProcess, browser: Any, tmp_path: Path
) -> None:
    time.sleep(IDLE + 1)  # stopped longer than the idle window: the refresh token is dead
    hook_log = tmp_path / "hook.jsonl"
    script = tmp_path / "hook.py"
    script.write_text(
        "import json, os, sys\n"
        "seen = {k: v for k, v in os.environ.items() if k.startswith('DEVICEFLOW_')}\n"
        "with open(sys.argv[1], 'a') as out:\n"
        "    out.write(json.dumps(seen) + '\\n')\n"
    )
    command = (
        f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(str(hook_log))}"
    )
    with webhook(failures=1) as hook, smtp_server() as mail, mosquitto(tmp_path) as broker:
        agent = Agent(
            cli,
            "--keepalive", "60",
            "--notify-command", command,
            "--notify-webhook", hook.url,
            "--notify-mqtt", broker.url("home/presence-light/deviceflow"),
            "--notify-email", "owner@example.test",
            "--smtp", mail.url,
        )  # fmt: skip
        try:
            agent.wait_line("sent through 4 of 4 notifier(s)")
            code = hook.bodies[0]
            assert code["event"] == "code" and code["profile"] == "default"
            assert set(code) == {
                "event", "user_code", "verification_uri", "verification_uri_complete",
                "expires_at", "profile",
            }  # fmt: skip
            assert code["expires_at"].endswith("Z")
            hooked = json.loads(hook_log.read_text().splitlines()[0])
            assert hooked["DEVICEFLOW_EVENT"] == "code"
            assert hooked["DEVICEFLOW_USER_CODE"] == code["user_code"]
            assert hooked["DEVICEFLOW_VERIFICATION_URI"] == code["verification_uri"]
            assert (
                hooked["DEVICEFLOW_VERIFICATION_URI_COMPLETE"] == code["verification_uri_complete"]
            )
            assert hooked["DEVICEFLOW_EXPIRES_AT"] == code["expires_at"]
            assert hooked["DEVICEFLOW_PROFILE"] == "default"
            wait_for(lambda: broker.received, what="the MQTT message")
            topic, payload, _ = broker.received[0]
            assert topic == "home/presence-light/deviceflow" and payload == code
            message = wait_for(lambda: mail.messages, what="the mail")[0]
            assert message["To"] == "owner@example.test"
            assert code["user_code"] in message.get_payload()

            approve_code(browser, code["verification_uri"], code["user_code"])
            agent.wait_line("relinked as Erin Example")
            agent.wait_line("relinked sent through 4 of 4")
            assert hook.bodies[-1]["event"] == "relinked"
            wait_for(lambda: broker.received[-1][1]["event"] == "relinked", what="relinked")
            token = cli.run("token")
            assert token.returncode == 0, token.stderr
            status = json.loads(cli.run("status", "--json").stdout)
            assert status["relinked_at"] and status["last_error"] is None
        finally:
            assert agent.stop() == 0
    assert hook.requests >= 3  # the first POST got 503 and was retried
    assert not server.leaked()
    log = "\n".join(agent.lines)
    assert "700082" in log  # the reason, in plain words with its code
    for line in agent.lines:  # no token on stderr
        assert "eyJ" not in line


def test_agent_sigkill_mid_refresh_loses_nothing(cli: Cli) -> None:
    agent = Agent(cli, "--keepalive", "0.2")
    agent.wait_line("refreshed", times=5)
    assert agent.stop(signal.SIGKILL) == -signal.SIGKILL  # somewhere in a refresh loop
    again = Agent(cli, "--keepalive", "0.2")
    try:
        again.wait_line("refreshed", times=3)
    finally:
        assert again.stop() == 0
    assert not any("sign-in is needed" in line for line in again.lines)
    token = cli.run("token", "--min-validity", "1000000")
    assert token.returncode == 0, token.stderr
    assert CLIENT_ID in (cli.cache / "default.json").read_text()
