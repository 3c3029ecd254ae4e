"""Run ``python -m deviceflow serve`` as a real subprocess on loopback, for the e2e tests.

The server's stdout and stderr go to files, so a test can later scan everything the server
printed for secrets it saw on the wire (device codes, user codes, tokens, passwords).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.tools import ROOT, free_port

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CLIENT_ID = "e2e-lamp"
USERNAME, PASSWORD = "erin", "erin-e2e-Pa55word"


def write_config(folder: Path, *, device_code_lifetime: int = 600, interval: int = 1) -> Path:
    """A test configuration: one RFC tenant, one Microsoft tenant, one client, one user."""
    path = folder / "server.toml"
    path.write_text(
        f"""
interval = {interval}

[lifetimes]
device_code = {device_code_lifetime}

[[tenants]]
id = "contoso"
name = "Contoso"
dialect = "rfc8628"

[[tenants]]
id = "fabrikam"
name = "Fabrikam"
dialect = "microsoft"

[[clients]]
client_id = "{CLIENT_ID}"
name = "E2E Desk Lamp"
scopes = ["openid", "profile", "offline_access", "User.Read", "Presence.Read"]

[[users]]
username = "{USERNAME}"
password = "{PASSWORD}"
display_name = "Erin Example"
given_name = "Erin"
surname = "Example"
mail = "erin@contoso.example"
tenant = "contoso"
""",
        encoding="utf-8",
    )
    return path


@dataclass
class ServerProcess:
    """One ``deviceflow serve`` subprocess; restartable on the same port and database."""

    folder: Path
    config: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    secrets: set[str] = field(default_factory=set)
    #: ``--db`` for the server; empty means SQLite in ``folder`` (see :attr:`db`).
    db_url: str = ""
    #: ``--tls``: HTTPS with the server's local CA (its certificate is :attr:`ca`).
    tls: bool = False

    @property
    def db(self) -> Path:
        return self.folder / "deviceflow.sqlite3"

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        """The local CA of ``--tls`` (kept beside the SQLite database)."""
        return self.folder / "tls" / "ca.pem"

    def log_files(self) -> list[Path]:
        return sorted(self.folder.glob("server-*.log"))

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it prints its base URL."""
        self.starts += 1
        out_path = self.folder / f"server-{self.starts}-stdout.log"
        err_path = self.folder / f"server-{self.starts}-stderr.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("DEVICEFLOW_CONFIG", None)
        command = [
            sys.executable, "-m", "deviceflow", "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--config", str(self.config), "--db", self.db_url or f"sqlite:///{self.db}",
        ] + (["--tls"] if self.tls else [])  # fmt: skip
        out: IO[bytes]
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if f"listening on {self.base_url}" in out_path.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(
            f"server did not start: {err_path.read_text(errors='replace')[-2000:]}"
        )

    def stop(self, timeout: float = 15.0) -> int:
        """Stop with SIGTERM (as an init system would) and return the exit code."""
        if self.process is None:
            return 0
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise
        return int(process.returncode)

    def remember(self, *values: str | None) -> None:
        """Record secrets seen on the wire; :meth:`leaked` later looks for them in the logs."""
        for value in values:
            if value:
                self.secrets.add(value)
                if "-" in value and len(value) <= 12:  # a user code: also its bare form
                    self.secrets.add(value.replace("-", ""))

    def leaked(self) -> list[str]:
        """Which remembered secrets appear in anything the server printed (redacted labels)."""
        text = "\n".join(path.read_text(errors="replace") for path in self.log_files())
        return [f"{value[:4]}... ({len(value)} chars)" for value in self.secrets if value in text]
