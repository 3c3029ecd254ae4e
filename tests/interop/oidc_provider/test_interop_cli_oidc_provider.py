"""The deviceflow CLI against node-oidc-provider (device flow enabled), approved in Chromium.

The provider omits ``interval`` (the client must use 5 s), sends ``verification_uri_complete``,
rotates refresh tokens for public clients and has an RFC 7009 revocation endpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli.harness import read_event
from tests.support.serverproc import wait_for_output
from tests.support.tools import (
    ROOT,
    free_port,
    require_node_package,
    require_tool,
)

pytestmark = [pytest.mark.interop, pytest.mark.xdist_group("cli-interop")]

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    node = require_tool("node")
    package = require_node_package("oidc-provider")
    folder = tmp_path_factory.mktemp("oidc-provider")
    shutil.copy(HERE / "server.mjs", folder / "server.mjs")
    # ESM resolves packages from node_modules next to the script: link the installed ones.
    (folder / "node_modules").symlink_to(package.parent, target_is_directory=True)
    port = free_port()
    log = folder / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [node, "server.mjs"],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PORT": str(port)},
        )
    issuer = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_output(proc, log, f"listening on {issuer}", 30), log.read_text()
        yield issuer
    finally:
        proc.terminate()
        proc.wait(10)


def approve_in_provider(browser: Any, url: str, login: str = "alice") -> None:
    """Walk the provider's device confirm page and its development login/consent pages."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        for _ in range(6):
            if "Sign-in Success" in page.content() or "success" in page.title().lower():
                return
            login_box = page.locator("input[name=login]")
            if login_box.count():
                login_box.fill(login)
                page.locator("input[name=password]").fill("any")
            page.locator("button[type=submit], input[type=submit]").first.click()
            page.wait_for_load_state()
        raise AssertionError(f"approval did not finish: {page.content()[:500]}")
    finally:
        context.close()


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deviceflow", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_cli_against_node_oidc_provider(provider: str, browser: Any, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DEVICEFLOW_")},
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "DEVICEFLOW_CACHE": str(tmp_path / "cache"),
        "DEVICEFLOW_ISSUER": provider,
        "DEVICEFLOW_CLIENT_ID": "iot-device",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "deviceflow", "login", "--json", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    try:
        code = read_event(proc.stdout)
        # verification_uri_complete is shown (JSON event and the human block on stderr).
        assert code["verification_uri_complete"] == (
            f"{provider}/device?user_code={code['user_code']}"
        )
        # The provider sends no interval: RFC 8628 §3.2's default of 5 s applies.
        assert code["interval"] == 5
        approve_in_provider(browser, code["verification_uri_complete"])
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # pragma: no cover - only on failure
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"verification_uri_complete: {code['verification_uri_complete']}" in err
    last = json.loads(out.splitlines()[-1])
    assert last == {
        "event": "signed_in",
        "name": "Interop alice",
        "username": "alice",
        "expires_on": last["expires_on"],
    }

    first = run_cli(env, "token")
    assert first.returncode == 0, first.stderr
    cache_file = tmp_path / "cache" / "default.json"
    refresh_before = json.loads(cache_file.read_text())["refresh_token"]
    assert refresh_before

    # Force a refresh: the provider rotates the refresh token; the rotated one must be saved.
    refreshed = run_cli(env, "token", "--min-validity", "999999")
    assert refreshed.returncode == 0, refreshed.stderr
    assert refreshed.stdout.strip() != first.stdout.strip()
    refresh_after = json.loads(cache_file.read_text())["refresh_token"]
    assert refresh_after and refresh_after != refresh_before
    again = run_cli(env, "token", "--min-validity", "999999")
    assert again.returncode == 0, again.stderr  # the rotated token works (the old one would not)

    accounts = run_cli(env, "accounts")
    assert accounts.stdout.startswith("default\tInterop alice <alice>\t")

    logout = run_cli(env, "logout")
    assert logout.returncode == 0, logout.stderr
    assert "revoked the sign-in at the server" in logout.stderr
    assert run_cli(env, "token").returncode == 3
