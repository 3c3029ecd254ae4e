"""Harness for the Microsoft interop tests: ``deviceflow serve --tls`` and a Chromium approver.

One server per test module (a real subprocess on 127.0.0.1 with the local CA it creates); the
CA file is handed to the client libraries under test. The person approving is Debian's Chromium
driven by Playwright; it does not trust the local CA, so its context ignores certificate errors
(the client libraries, which are what we test, do verify it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.tools import ROOT, free_port

CLIENT_ID = "7c1c9f3e-2d8b-4f6a-9b1e-5a4d3c2b1a0f"
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
TENANT = "contoso"
TENANT_GUID = "3f2e1d0c-9b8a-4765-8432-10fedcba9876"
USERNAME, PASSWORD = "adele", "adele-Interop-Pa55"
SCOPES = [
    "openid", "profile", "email", "offline_access", "User.Read", "User.ReadBasic.All",
    "Presence.Read",
]  # fmt: skip


def write_config(folder: Path) -> Path:
    """One Microsoft tenant (name, domain, GUID), our client and Azure CLI's, one user."""
    scopes = ", ".join(f'"{s}"' for s in SCOPES)
    path = folder / "server.toml"
    path.write_text(
        f"""
interval = 1
refresh_rotation = "microsoft"

[[tenants]]
id = "{TENANT}"
name = "Contoso"
dialect = "microsoft"
guid = "{TENANT_GUID}"
domain = "contoso.example"
aliases = ["common", "organizations"]

[[clients]]
client_id = "{CLIENT_ID}"
name = "Interop Lamp"
scopes = [{scopes}]

[[clients]]
client_id = "{AZURE_CLI_CLIENT_ID}"
name = "Azure CLI (emulated)"
scopes = [{scopes}]

[[users]]
username = "{USERNAME}"
password = "{PASSWORD}"
display_name = "Adele Vance"
given_name = "Adele"
surname = "Vance"
mail = "adele@contoso.example"
job_title = "Retail Manager"
preferred_language = "en-US"
""",
        encoding="utf-8",
    )
    return path


@dataclass
class TlsServer:
    """``python -m deviceflow serve --tls`` with its data directory in ``folder``."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    stdout: str = ""
    #: Writes the server's configuration file into a folder (default: :func:`write_config`).
    configure: Callable[[Path], Path] = write_config

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return self.folder / "data" / "tls" / "ca.pem"

    def start(self, timeout: float = 30.0) -> None:
        config = self.configure(self.folder)
        out_path, err_path = self.folder / "stdout.log", self.folder / "stderr.log"
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DEVICEFLOW_DATA_DIR": str(self.folder / "data"),
        }
        env.pop("DEVICEFLOW_CONFIG", None)
        command = [
            sys.executable, "-m", "deviceflow", "serve", "--tls",
            "--host", "127.0.0.1", "--port", str(self.port), "--config", str(config),
        ]  # fmt: skip
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.stdout = out_path.read_text(errors="replace")
            if f"listening on {self.base_url}" in self.stdout:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"server did not start: {err_path.read_text(errors='replace')}")

    def stop(self) -> int:
        if self.process is None:
            return 0
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(15)
            except subprocess.TimeoutExpired:  # pragma: no cover - only on failure
                process.kill()
                process.wait()
                raise
        return int(process.returncode)


def approve(browser: Any, base_url: str, user_code: str) -> None:
    """The person: open /devicelogin, type the code, sign in, approve."""
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.goto(f"{base_url}/devicelogin")
        page.get_by_label("Code").fill(user_code)
        page.get_by_role("button", name="Next").click()
        page.get_by_label("Username").fill(USERNAME)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Approve").click()
        assert "Device approved" in page.inner_text("body")
    finally:
        context.close()
