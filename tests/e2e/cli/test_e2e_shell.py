"""What gh users expect from a CLI, run for real: shell completion in bash, zsh and fish, "did
you mean" for a mistyped command, ``login --open`` and ``login --clipboard`` (issue 16).

The completion scripts are loaded into the real shells (Debian's bash, zsh and fish; CI installs
them, see ``.ci/run``). The browser and clipboard are stood in for by small scripts on the
command line's ``BROWSER`` and ``PATH``: what the CLI hands them is what the test reads.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli.harness import Cli
from tests.e2e.cli.services import server_config
from tests.support.serverproc import ServerProcess, serving
from tests.support.tools import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cli-e2e-shell")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("shell-server")
    with serving(ServerProcess(folder=folder, config=server_config(folder))) as proc:
        yield proc


def completion_script(tmp_path: Path, shell: str) -> Path:
    cli = Cli(ServerProcess(folder=tmp_path, config=tmp_path / "unused.toml"), tmp_path)
    result = cli.run("completion", shell)
    assert result.returncode == 0, result.stderr
    path = tmp_path / f"deviceflow.{shell}"
    path.write_text(result.stdout, encoding="utf-8")
    return path


def bash_completions(script: Path, line: str) -> list[str]:
    """What bash offers for ``line`` (completing its last word) with ``script`` loaded."""
    words = line.split(" ")
    program = f"""
source {script}
COMP_WORDS=({" ".join(repr(w) for w in words)})
COMP_CWORD={len(words) - 1}
_deviceflow
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    bash = require_tool("bash")
    done = subprocess.run([bash, "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [word for word in done.stdout.splitlines() if word]


def test_bash_completion_is_valid_and_completes_commands_flags_and_choices(
    tmp_path: Path,
) -> None:
    script = completion_script(tmp_path, "bash")
    checked = subprocess.run([require_tool("bash"), "-n", str(script)], capture_output=True)
    assert checked.returncode == 0, checked.stderr
    assert bash_completions(script, "deviceflow lo") == ["login", "logout"]
    assert bash_completions(script, "deviceflow graph ") == ["GET", "POST", "PATCH", "DELETE"]
    assert bash_completions(script, "deviceflow login --qr-f") == ["--qr-file"]
    assert bash_completions(script, "deviceflow completion z") == ["zsh"]
    assert bash_completions(script, "deviceflow ad") == ["admin"]
    assert bash_completions(script, "deviceflow admin ") == ["users", "clients", "sessions"]


def test_zsh_completion_is_valid(tmp_path: Path) -> None:
    script = completion_script(tmp_path, "zsh")
    assert script.read_text().startswith("#compdef deviceflow\n")
    checked = subprocess.run([require_tool("zsh"), "-n", str(script)], capture_output=True)
    assert checked.returncode == 0, checked.stderr


def test_fish_completion_is_valid_and_completes(tmp_path: Path) -> None:
    script = completion_script(tmp_path, "fish")
    fish = require_tool("fish")
    checked = subprocess.run([fish, "--no-execute", str(script)], capture_output=True)
    assert checked.returncode == 0, checked.stderr
    done = subprocess.run(
        [fish, "-c", f"source {script}; complete -C 'deviceflow lo'"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == ["login", "logout"]
    admin = subprocess.run(
        [fish, "-c", f"source {script}; complete -C 'deviceflow ad'"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert admin.stdout.startswith("admin\tusers, clients and device sessions of a server")


def test_mistyped_command_flag_and_config_key_get_a_suggestion(tmp_path: Path) -> None:
    cli = Cli(ServerProcess(folder=tmp_path, config=tmp_path / "unused.toml"), tmp_path)
    result = cli.run("logn", "--client-id", "x")
    assert result.returncode == 2
    assert "unknown command 'logn' (did you mean 'login'?)" in result.stderr
    result = cli.run("login", "--cleint-id", "x")
    assert result.returncode == 2
    assert "unrecognized arguments: --cleint-id (did you mean '--client-id'?) x" in result.stderr

    config = Path(cli.env["XDG_CONFIG_HOME"]) / "deviceflow" / "config.ini"
    config.parent.mkdir(parents=True)
    config.write_text("[DEFAULT]\ntenent = contoso\n")
    result = cli.run("me")
    assert result.returncode == 2
    assert "unknown setting(s): tenent (did you mean tenant?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_login_open_hands_the_link_to_the_browser(server: ServerProcess, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    browser.chmod(0o755)
    cli = Cli(server, tmp_path, tenant="fabrikam")
    cli.env["BROWSER"] = f"{browser} %s"
    result = cli.run("login", "--json", "--open", "--timeout", "1")
    assert result.returncode == 5, result.stderr
    code = json.loads(result.stdout.splitlines()[0])
    assert opened.read_text() == code["verification_uri_complete"]
    assert "Opened the sign-in page in your browser." in result.stderr


def test_login_open_without_a_display_says_so(server: ServerProcess, tmp_path: Path) -> None:
    cli = Cli(server, tmp_path)
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        cli.env.pop(name, None)
    result = cli.run("login", "--open", "--timeout", "1")
    assert result.returncode == 5, result.stderr
    assert "No browser here (no display): open the URL on your phone" in result.stderr


def test_login_clipboard_copies_the_code_or_says_why_not(
    server: ServerProcess, tmp_path: Path
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    copied = tmp_path / "copied.txt"
    pbcopy = tools / "pbcopy"
    pbcopy.write_text(f"#!/bin/sh\nexec /bin/cat > {copied}\n")
    pbcopy.chmod(0o755)
    cli = Cli(server, tmp_path)
    cli.env["PATH"] = str(tools)
    result = cli.run("login", "--json", "--clipboard", "--timeout", "1")
    assert result.returncode == 5, result.stderr
    assert copied.read_text() == json.loads(result.stdout.splitlines()[0])["user_code"]
    assert "Copied the code to the clipboard (pbcopy)." in result.stderr

    cli.env["PATH"] = str(tmp_path / "empty")
    result = cli.run("login", "--clipboard", "--timeout", "1")
    assert result.returncode == 5, result.stderr
    assert "Could not copy the code: no clipboard tool here" in result.stderr
