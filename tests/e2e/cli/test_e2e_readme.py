"""The README, followed by a newcomer: its quick start, "Running your own server" and "Using the
CLI" blocks, each command exactly as written, in a clean environment.

The commands are read from the README's fenced ``sh`` blocks (so this test breaks when the
README drifts) and each runs in ``bash -c`` as a user would type it: a fresh ``HOME`` (no XDG
variables, no ``DEVICEFLOW_*`` ones), this machine's PATH without any ``deviceflow`` on it,
and afterwards the PATH the README's activation line gives. The quick start runs in the
checkout (``make`` needs it, and the README's paths are relative to it), the other blocks in an
empty folder. Each command's exit code is checked against :data:`EXPECTED`, which must list
every README command: an exit code from the README's table, or why the command cannot run here.
Sign-ins are approved over HTTP (:func:`tests.support.pages.approve_over_http`) as the demo
user the server's banner names.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

import pytest

from tests.support.pages import approve_over_http
from tests.support.tools import ROOT, missing, require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("readme")]

README = ROOT / "README.md"
DEMO_USER, DEMO_PASSWORD = "adele", "adele-password"  # printed by the development banner

NEEDS_MICROSOFT = "signs in at, or calls, a Microsoft cloud: needs a real tenant and the Internet"
EXPECTED: dict[str, dict[str, int | str]] = {
    "Quick start": {
        "make demo": 0,
        ". .venv/bin/activate": 0,
        "make test": "is the whole suite, which runs this test",
    },
    "Running your own server": {
        "deviceflow serve --port 8765 --log-file serve.log --background": 0,
        "deviceflow login --authority http://127.0.0.1:8765/organizations \\\n"
        "  --client-id 5e1c0f7a-2b4d-4e8f-9a6b-3c2d1e0f9a8b --graph-url http://127.0.0.1:8765": 0,
        "deviceflow me": 0,  # login remembered the authority and the Graph URL
    },
    # Run after "Running your own server": the default profile is then signed in there.
    "Using the CLI": {
        "deviceflow login --client-id ID": NEEDS_MICROSOFT,
        "deviceflow token": 0,
        'curl -H "Authorization: Bearer $(deviceflow token)" https://graph.microsoft.com/v1.0/me': (
            NEEDS_MICROSOFT
        ),
        "deviceflow me": 0,  # the profile signed in above, its Graph URL remembered
        # The login above asked for the default scopes: the hint names Presence.Read and the
        # login that adds it (issue 16, 6); the test runs that login and the call again.
        "deviceflow graph GET /v1.0/me/presence": 3,
        "deviceflow accounts": 0,
        "deviceflow status": 0,
        "deviceflow doctor": NEEDS_MICROSOFT,
        "deviceflow agent --notify-webhook URL": "runs until stopped (a service)",
    },
}


def readme_commands(heading: str) -> list[tuple[str, str]]:
    """``(command, line as written)`` for the first ``sh`` block under ``heading``: a command
    continued with a backslash keeps its continuation; ``command`` drops the trailing comment."""
    text = README.read_text(encoding="utf-8")
    start = re.search(rf"^#+ {re.escape(heading)}\n", text, re.M)
    assert start, f"README has no heading {heading!r}"
    block = re.search(r"^```sh\n(.*?)^```", text[start.end() :], re.M | re.S)
    assert block, f"no sh block under {heading!r}"
    commands: list[tuple[str, str]] = []
    pending = ""
    for line in block.group(1).splitlines():
        pending += line
        if line.endswith("\\"):
            pending += "\n"
            continue
        command = re.sub(r"\s+# .*$", "", pending).rstrip()
        commands.append((command, pending))
        pending = ""
    return commands


def clean_path() -> str:
    """This machine's PATH without any folder that holds a ``deviceflow`` command."""
    folders = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join(f for f in folders if f and not (Path(f) / "deviceflow").exists())


class Shell:
    """Runs README lines in ``bash -c`` with one environment, as one terminal would."""

    def __init__(self, home: Path) -> None:
        self.env = {"HOME": str(home), "PATH": clean_path(), "LANG": "C.UTF-8"}
        for name in ("CI", "DEVICEFLOW_TEST_POSTGRES", "TMPDIR"):
            if name in os.environ:
                self.env[name] = os.environ[name]

    def start(self, line: str, cwd: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["bash", "-c", line],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=self.env,
        )

    def run(self, line: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, cwd=cwd, env=self.env,
            timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip


def read_until(stream: IO[str], pattern: str, timeout: float = 120) -> tuple[re.Match[str], str]:
    """Read lines until one matches ``pattern``; the match and everything read."""
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen += line
        match = re.search(pattern, line)
        if match:
            return match, seen
    raise AssertionError(f"no line matching {pattern!r} in:\n{seen}")


def signed_in(proc: subprocess.Popen[str], base: str | None = None) -> tuple[str, str]:
    """Approve the code ``proc`` (a login) shows, as the demo user; its stdout and stderr."""
    assert proc.stdout is not None
    if base is None:
        found, _ = read_until(proc.stdout, r"running at (http://\S+)")
        base = found.group(1)
    code, _ = read_until(proc.stdout, r"^user_code: (\S+)")
    answer = approve_over_http(base, code.group(1), username=DEMO_USER, password=DEMO_PASSWORD)
    assert answer.status_code == 200, answer.text[:500]
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out, err


def test_readme_blocks_run_as_written_in_a_clean_environment(tmp_path: Path) -> None:
    require_tool("make")
    blocks = {heading: readme_commands(heading) for heading in EXPECTED}
    for heading, commands in blocks.items():  # every README command has an expectation
        assert [command for command, _ in commands] == list(EXPECTED[heading]), heading
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8765)) == 0:
            missing("port 8765 (the README's)", "something else listens on it")
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    shell = Shell(home)
    server_pid: int | None = None
    terminal: list[str] = []  # what each command after `serve` printed
    try:
        # Quick start, in the checkout.
        demo_line, activate_line = (line for command, line in blocks["Quick start"][:2])
        demo_out, _ = signed_in(shell.start(demo_line, ROOT))
        assert "/v1.0/me says: Adele Vance" in demo_out
        # The demo's closing hint works as printed, in a terminal without the activation.
        hint = [line.strip() for line in demo_out.splitlines() if "on your PATH" in line]
        assert len(hint) == 1, demo_out
        printed = shell.run(f"{hint[0]}\ndeviceflow token", work)
        assert printed.returncode == 3, printed.stderr  # found; nobody signed in yet
        activated = shell.run(f'{activate_line}\nprintf %s "$PATH"', ROOT)
        assert activated.returncode == 0, activated.stderr
        shell.env["PATH"] = activated.stdout
        assert shutil.which("deviceflow", path=activated.stdout) is not None

        # Running your own server, then the CLI against it, in an empty folder.
        for heading in ("Running your own server", "Using the CLI"):
            for command, line in blocks[heading]:
                expected = EXPECTED[heading][command]
                if isinstance(expected, str):
                    continue  # why it cannot run here is the expectation's text
                if command.startswith("deviceflow login"):
                    out, err = signed_in(shell.start(line, work), "http://127.0.0.1:8765")
                    terminal.append(out + err)
                    assert "Signed in as " in out + err
                    continue
                result = shell.run(line, work)
                terminal.append(result.stdout + result.stderr)
                assert result.returncode == expected, (line, result.stdout, result.stderr)
                assert "Traceback" not in result.stderr
                if "--background" in command:
                    server_pid = int(re.findall(r"\(pid (\d+)\)", result.stdout)[-1])
                    assert "password: adele-password" in result.stdout  # the banner is shown
                if command.startswith("deviceflow me"):
                    assert "Adele Vance" in result.stdout
                if command.startswith("deviceflow graph GET /v1.0/me/presence"):
                    hinted = re.search(
                        r"signing in again with: (deviceflow login .*)", result.stderr
                    )
                    assert hinted and "Presence.Read" in hinted.group(1), result.stderr
                    out, err = signed_in(
                        shell.start(hinted.group(1), work), "http://127.0.0.1:8765"
                    )
                    assert "Signed in as " in out + err
                    again = shell.run(line, work)
                    assert again.returncode == 0, again.stderr
                    assert "availability" in again.stdout, again.stdout
        # The server logged the requests above to its file, none to the terminal.
        assert "POST /organizations/oauth2/v2.0/token 200" in (work / "serve.log").read_text()
        assert not [text for text in terminal[1:] if "deviceflow.server.access" in text]
    finally:
        if server_pid is not None:
            os.kill(server_pid, signal.SIGTERM)
