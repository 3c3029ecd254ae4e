"""The one way the suite runs ``python -m deviceflow serve`` as a real subprocess on loopback.

:class:`ServerProcess` starts the server (plain HTTP or ``--tls``, SQLite in its folder or any
database URL), waits until it prints the URL it listens on, and stops it with SIGTERM (as an
init system would) or SIGKILL (as a power cut would). Its stdout and stderr go to files, so a
test can later scan everything the server printed for secrets it saw on the wire (device codes,
user codes, tokens, passwords) or for tracebacks.

:func:`e2e_config` is the configuration most real-server tests share: an RFC tenant
(``contoso``, user ``erin``), a Microsoft tenant (``fabrikam``) and one client.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.support.config import write_config
from tests.support.tools import ROOT, free_port

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CLIENT_ID = "e2e-lamp"
USERNAME, PASSWORD = "erin", "erin-e2e-Pa55word"


def e2e_config(*, device_code_lifetime: int = 600, interval: int = 1) -> dict[str, Any]:
    """A test configuration: one RFC tenant, one Microsoft tenant, one client, one user."""
    return {
        "interval": interval,
        "lifetimes": {"device_code": device_code_lifetime},
        "tenants": [
            {"id": "contoso", "name": "Contoso", "dialect": "rfc8628"},
            {"id": "fabrikam", "name": "Fabrikam", "dialect": "microsoft"},
        ],
        "clients": [
            {
                "client_id": CLIENT_ID,
                "name": "E2E Desk Lamp",
                "scopes": ["openid", "profile", "offline_access", "User.Read", "Presence.Read"],
            }
        ],
        "users": [
            {
                "username": USERNAME,
                "password": PASSWORD,
                "display_name": "Erin Example",
                "given_name": "Erin",
                "surname": "Example",
                "mail": "erin@contoso.example",
                "tenant": "contoso",
            }
        ],
    }


def e2e_server(folder: Path, *, db_url: str = "", **config: int) -> ServerProcess:
    """A server (not started yet) on :func:`e2e_config` (written to ``folder``)."""
    config_file = write_config(folder, e2e_config(**config))
    return ServerProcess(folder=folder, config=config_file, db_url=db_url)


def wait_for_output(
    process: subprocess.Popen[Any], path: Path, text: str, timeout: float = 30.0
) -> bool:
    """Wait until ``text`` shows up in the file ``path``; false when ``process`` ends first
    or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    return False


@dataclass
class ServerProcess:
    """One ``deviceflow serve`` subprocess; restartable on the same port and database."""

    folder: Path
    config: Path
    port: int = field(default_factory=free_port)
    #: ``--db`` for the server; empty means SQLite in ``folder`` (see :attr:`db`).
    db_url: str = ""
    #: ``serve --tls`` (the local CA and certificate land in ``folder / "data"``).
    tls: bool = False
    #: More ``deviceflow serve`` arguments (``--metrics``, ``--drain 1`` ...).
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    secrets: set[str] = field(default_factory=set)

    @property
    def db(self) -> Path:
        return self.folder / "deviceflow.sqlite3"

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        """The local CA certificate of a ``tls`` server."""
        return self.folder / "data" / "tls" / "ca.pem"

    @property
    def stdout(self) -> str:
        """What the server printed to stdout in its latest run."""
        return self._log(self.starts, "stdout").read_text(errors="replace")

    def _log(self, start: int, stream: str) -> Path:
        # Named after the port as well: servers of one test may share a folder.
        return self.folder / f"server-{self.port}-{start}-{stream}.log"

    def log_files(self) -> list[Path]:
        return sorted(self.folder.glob(f"server-{self.port}-*.log"))

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it prints its base URL."""
        self.starts += 1
        out_path, err_path = self._log(self.starts, "stdout"), self._log(self.starts, "stderr")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICEFLOW_")}
        env["PYTHONUNBUFFERED"] = "1"
        env["DEVICEFLOW_DATA_DIR"] = str(self.folder / "data")
        command = [
            sys.executable, "-m", "deviceflow", "serve", *(["--tls"] if self.tls else []),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--config", str(self.config), "--db", self.db_url or f"sqlite:///{self.db}",
            *self.args,
        ]  # fmt: skip
        out: IO[bytes]
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT, env=env)
        if wait_for_output(self.process, out_path, f"listening on {self.base_url}", timeout):
            return
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
            except subprocess.TimeoutExpired:  # pragma: no cover - only on failure
                process.kill()
                process.wait()
                raise
        return int(process.returncode)

    def kill(self) -> None:
        """SIGKILL, as a power cut would: no shutdown code runs."""
        assert self.process is not None
        process, self.process = self.process, None
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    def memory_kib(self, field: str = "VmRSS") -> int:
        """A memory figure of the running server from ``/proc/PID/status`` (``VmRSS``: resident
        now; ``VmHWM``: the peak since start or :meth:`reset_peak_memory`), in KiB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} for the server")

    def reset_peak_memory(self) -> None:
        """Reset the peak (``VmHWM``) to the current resident size (``/proc/PID/clear_refs``)."""
        assert self.process is not None
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

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

    def log_lines(self) -> int:
        """How many lines the server printed, over all its runs (all scanned by ``leaked``)."""
        return sum(len(p.read_text(errors="replace").splitlines()) for p in self.log_files())

    def tracebacks(self) -> list[str]:
        """Log files that hold a Python traceback."""
        return [p.name for p in self.log_files() if "Traceback" in p.read_text(errors="replace")]


@contextmanager
def serving(server: ServerProcess, *, clean: bool = False) -> Iterator[ServerProcess]:
    """``server`` started for the block and stopped after it.

    With ``clean``, the server must also stop cleanly on SIGTERM and must not have printed any
    secret it was told about (:meth:`ServerProcess.remember`).
    """
    server.start()
    try:
        yield server
    finally:
        code = server.stop()
        if clean:
            assert code == 0, "the server did not stop cleanly on SIGTERM"
            leaked = server.leaked()
            assert not leaked, f"server output contains secrets: {leaked}"
