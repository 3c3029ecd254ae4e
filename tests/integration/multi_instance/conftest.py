"""Two ``deviceflow serve`` processes (A and B) on different ports sharing one PostgreSQL DB."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from tests.contract.pg import fresh_database
from tests.e2e.server.serverproc import ServerProcess, write_config
from tests.tools import ROOT, chromium_browser

UNKNOWN_CODE_LIMIT = 4
USER_CODE_LIMIT = 3


@dataclass
class SharedDbServer(ServerProcess):
    """A :class:`ServerProcess` on a database URL instead of its own SQLite file."""

    db_url: str = ""

    def start(self, timeout: float = 30.0) -> None:
        """Start the server on ``db_url`` and wait until it prints its base URL."""
        self.starts += 1
        out_path = self.folder / f"server-{self.port}-{self.starts}-stdout.log"
        err_path = self.folder / f"server-{self.port}-{self.starts}-stderr.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICEFLOW_")}
        command = [
            sys.executable, "-m", "deviceflow", "serve", "--port", str(self.port),
            "--config", str(self.config), "--db", self.db_url,
        ]  # fmt: skip
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
        raise AssertionError(f"server did not start: {err_path.read_text(errors='replace')}")

    def log_files(self) -> list[Path]:
        return sorted(self.folder.glob(f"server-{self.port}-*.log"))


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SharedDbServer, SharedDbServer]]:
    """Servers A and B, started together (they migrate the fresh database once between them)."""
    folder = tmp_path_factory.mktemp("multi")
    config = write_config(folder)
    with open(config, "a", encoding="utf-8") as extra:
        extra.write(
            f"\n[rate_limits]\nunknown_device_code_polls = {UNKNOWN_CODE_LIMIT}\n"
            f"user_code_failures = {USER_CODE_LIMIT}\n"
        )
    with fresh_database() as url:
        a = SharedDbServer(folder, config, db_url=url)
        b = SharedDbServer(folder, config, db_url=url)
        try:
            a.start()
            b.start()
            yield a, b
        finally:
            a.stop()
            b.stop()
            leaked = a.leaked() + b.leaked()
            assert leaked == [], f"secrets in server output: {leaked}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the module."""
    with chromium_browser() as chromium:
        yield chromium
