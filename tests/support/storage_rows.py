"""How many rows each table of a storage holds, for tests that check what piles up.

Read behind the storage's back (the protocol has no "count" method, and needs none): with SQL
for SQLite and PostgreSQL (the ``backend`` URL), from the dictionaries of a memory store.
"""

from __future__ import annotations

import sqlite3

from deviceflow.server.storage.base import Storage
from deviceflow.server.storage.memory import MemoryStorage

TABLES = ("device_grants", "refresh_tokens", "counters", "kv")


def stored_rows(url: str, storage: Storage | None = None) -> dict[str, int]:
    """``{table: rows}`` of the database at ``url`` (for ``memory:``, of ``storage``)."""
    if url == "memory:":
        assert isinstance(storage, MemoryStorage)
        held = (storage._grants, storage._refresh, storage._counters, storage._values)
        return {table: len(rows) for table, rows in zip(TABLES, held, strict=True)}
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    import psycopg

    with psycopg.connect(url) as conn:
        counted = {}
        for table in TABLES:
            row = conn.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()
            counted[table] = row[0] if row else 0
        return counted
