"""A SQLite database whose schema is not the one this code needs is not ready (``/readyz``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from deviceflow.server.storage.sqlite import SQLiteStorage


def test_check_reports_a_schema_version_it_does_not_know(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    storage = SQLiteStorage(path)
    try:
        wanted = storage._schema()[1]
        with sqlite3.connect(path) as other:  # a newer release migrated it meanwhile
            other.execute(f"PRAGMA user_version = {wanted + 1}")
        assert storage.check() == f"schema version {wanted + 1}, expected {wanted}"
    finally:
        storage.close()


def test_check_of_a_closed_store_says_unreachable(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "db.sqlite3")
    storage.close()
    reason = storage.check()
    assert reason is not None and reason.startswith("database unreachable")
