"""A throwaway PostgreSQL database for tests: the machine's server on 127.0.0.1:5432.

``DEVICEFLOW_TEST_POSTGRES`` may name another administrative URL (any database the user may
connect to and ``CREATE DATABASE`` from). Locally an unreachable server skips the test; in CI
it fails (:func:`tests.support.tools.missing`).

:func:`private_server` is a PostgreSQL server of the test's own, which it may stop and start.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.support.tools import free_port, missing

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("DEVICEFLOW_TEST_POSTGRES", DEFAULT_ADMIN_URL)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create ``deviceflow_test_<random>``, yield its URL, then drop it."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the dev install has the postgres extra
        missing("psycopg", "pip install 'deviceflow[postgres]'")
        raise
    url = admin_url()
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        missing(
            f"PostgreSQL at {url.split('@')[-1]}",
            f"start it, or set DEVICEFLOW_TEST_POSTGRES ({exc})",
        )
        raise
    name = f"deviceflow_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}".encode())
        try:
            yield _with_database(url, name)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


class PrivateServer:
    """A PostgreSQL server of the test's own (``initdb`` + ``pg_ctl``) on a free loopback port,
    for tests that stop and start the database; never the shared server on 5432.

    The PostgreSQL tools refuse to run as root: as root they run as the ``postgres`` user
    (``runuser``), in a folder that user owns.
    """

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            missing("PostgreSQL server binaries (initdb)", "apt-get install postgresql")
        self.bin = Path(bins[-1]).parent
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="deviceflow-pg-"))
        self.data = self.folder / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as, str(self.bin / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{tool} failed: {done.stdout}{done.stderr}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -h 127.0.0.1"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def private_server() -> Iterator[PrivateServer]:
    """A started :class:`PrivateServer`, stopped (if running) and removed after the block."""
    server = PrivateServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        with suppress(AssertionError, subprocess.TimeoutExpired):
            server.stop()
        server.remove()
