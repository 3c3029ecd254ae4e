"""A throwaway PostgreSQL database for tests: the machine's server on 127.0.0.1:5432.

``DEVICEFLOW_TEST_POSTGRES`` may name another administrative URL (any database the user may
connect to and ``CREATE DATABASE`` from). Locally an unreachable server skips the test; in CI
it fails (:func:`tests.support.tools.missing`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.tools import missing

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
