"""PostgreSQL specifics: migrations under concurrent start-up, URLs, pool use across threads."""

from __future__ import annotations

import threading

import pytest

from deviceflow.server.storage import open_storage
from deviceflow.server.storage.postgres import PostgresStorage, postgres_migrations
from tests.support.postgres import fresh_database


def test_migrations_use_double_precision_for_times() -> None:
    version, sql = postgres_migrations()[0]
    assert version == 1
    assert "REAL" not in sql and "created_at        DOUBLE PRECISION NOT NULL" in sql


def test_instances_starting_together_migrate_once() -> None:
    import psycopg

    with fresh_database() as url:
        barrier = threading.Barrier(4)
        opened: list[PostgresStorage] = []
        failures: list[BaseException] = []

        def start() -> None:
            barrier.wait()
            try:
                opened.append(PostgresStorage(url, min_size=1, max_size=1))
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for store in opened:
            store.close()
        assert failures == []
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT version FROM deviceflow_schema").fetchall()
        assert sorted(rows) == [(version,) for version, _ in postgres_migrations()]


def test_postgres_scheme_alias_opens_postgresql(postgres_url: str) -> None:
    store = open_storage("postgres://" + postgres_url.removeprefix("postgresql://"))
    try:
        assert isinstance(store, PostgresStorage)
        assert store.put_value("ns", "alias", "x")
    finally:
        store.close()


def test_unreachable_server_is_an_error_not_a_hang() -> None:
    with pytest.raises(
        ConnectionError, match=r"cannot reach PostgreSQL on 127\.0\.0\.1 within 1 s"
    ):
        PostgresStorage("postgresql://nobody@127.0.0.1:1/none", max_size=1, timeout=1.0)


def test_update_without_changes_is_refused(postgres_url: str) -> None:
    store = PostgresStorage(postgres_url)
    try:
        with pytest.raises(ValueError, match="nothing to update"):
            store.update_grant("d1", {}, {})
    finally:
        store.close()


def test_missing_database_is_refused_at_once_with_the_createdb_line(postgres_url: str) -> None:
    from deviceflow.server.storage import DatabaseSetupError

    absent = postgres_url.rpartition("/")[0] + "/deviceflow_absent"
    with pytest.raises(DatabaseSetupError) as caught:
        open_storage(absent)
    message = str(caught.value)
    assert 'database "deviceflow_absent" does not exist' in message
    assert "createdb -h " in message and message.count("deviceflow_absent") >= 2


def test_a_mixed_case_missing_database_is_named_as_sql_and_the_shell_spell_it(
    postgres_url: str,
) -> None:
    # Unquoted, CREATE DATABASE deviceflow_Absent would make "deviceflow_absent": not this one.
    from deviceflow.server.storage import DatabaseSetupError

    absent = postgres_url.rpartition("/")[0] + "/deviceflow_Absent"
    with pytest.raises(DatabaseSetupError) as caught:
        open_storage(absent)
    message = str(caught.value)
    assert (
        ' deviceflow_Absent (or CREATE DATABASE "deviceflow_Absent"; as an administrator)'
        in message
    )
