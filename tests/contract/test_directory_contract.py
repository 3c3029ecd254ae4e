"""The directory (users, clients, a user's refresh records) every backend keeps alike."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from deviceflow.server.storage.base import (
    Directory,
    RefreshRecord,
    Storage,
    StoredClient,
    StoredUser,
    directory_of,
)


@pytest.fixture
def directory(storage: Storage) -> Directory:
    found = directory_of(storage)
    assert found is not None
    return found


def user(n: int = 1, **kw: object) -> StoredUser:
    base = StoredUser(
        id=f"00000000-0000-4000-8000-00000000000{n}",
        tenant_id="contoso",
        username=f"User{n}",
        password_hash="$argon2id$x",
        display_name=f"User {n}",
        mail=f"user{n}@contoso.example",
        created_at=1.0,
        updated_at=1.0,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def client(name: str = "app", **kw: object) -> StoredClient:
    base = StoredClient(
        client_id=name,
        tenant_id="contoso",
        name=name.title(),
        public=True,
        secret_hash="",
        scopes=("openid", "offline_access"),
        created_at=1.0,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_user_round_trip_and_lookup_by_any_case(directory: Directory) -> None:
    assert directory.insert_user(user())
    assert directory.find_user_by_id(user().id) == user()
    assert directory.find_users("user1") == [user()]
    assert directory.find_users(" USER1@Contoso.Example", "contoso") == [user()]
    assert directory.find_users("user1", "fabrikam") == []
    assert directory.find_users("nobody") == []
    assert directory.find_user_by_id("nope") is None


def test_username_is_unique_per_tenant_whatever_its_case(directory: Directory) -> None:
    assert directory.insert_user(user())
    assert not directory.insert_user(user(2, username="USER1"))
    assert not directory.insert_user(user(1, username="other"))  # the id is taken
    assert directory.insert_user(user(2, username="user1", tenant_id="fabrikam"))
    assert [u.tenant_id for u in directory.find_users("user1")] == ["contoso", "fabrikam"]


def test_user_update_list_and_delete(directory: Directory) -> None:
    directory.insert_user(user(2))
    directory.insert_user(user(1))
    assert directory.update_user(user(1).id, {"enabled": False, "password_hash": "$argon2id$y"})
    changed = directory.find_user_by_id(user(1).id)
    assert changed is not None and changed.enabled is False
    assert changed.password_hash == "$argon2id$y"
    assert [u.username for u in directory.list_users("contoso")] == ["User1", "User2"]
    assert not directory.update_user("nope", {"enabled": False})
    with pytest.raises(ValueError):
        directory.update_user(user(1).id, {"id": "x"})
    assert directory.delete_user(user(1).id)
    assert not directory.delete_user(user(1).id)
    assert directory.list_users("contoso") == [user(2)]


def test_client_round_trip_update_list_delete(directory: Directory) -> None:
    assert directory.insert_client(client("b"))
    assert directory.insert_client(client("a", public=False, secret_hash="$argon2id$s"))
    assert not directory.insert_client(client("a"))
    assert directory.find_client("a") == client("a", public=False, secret_hash="$argon2id$s")
    assert directory.find_client("zz") is None
    assert [c.client_id for c in directory.list_clients("contoso")] == ["a", "b"]
    assert directory.list_clients("fabrikam") == []
    assert directory.update_client("b", {"enabled": False})
    found = directory.find_client("b")
    assert found is not None and found.enabled is False and found.public is True
    assert directory.delete_client("b") and not directory.delete_client("b")


def test_refresh_of_user_lists_the_unexpired_oldest_first(
    storage: Storage, directory: Directory
) -> None:
    def record(n: int, issued: float, **kw: object) -> RefreshRecord:
        base = RefreshRecord(
            token_hash=f"r{n}", family_id="f", client_id="c", tenant_id="t", user_id="u",
            scopes=("offline_access",), origin="device_code", issued_at=issued,
            expires_at=issued + 100, absolute_expires_at=issued + 1000,
            ip="192.0.2.7", user_agent="Lamp/1.0",
        )  # fmt: skip
        return dataclasses.replace(base, **kw)  # type: ignore[arg-type]

    storage.insert_refresh(record(2, 50))
    storage.insert_refresh(record(1, 10))
    storage.insert_refresh(record(3, 1))  # expired at 101
    storage.insert_refresh(record(4, 60, user_id="someone else"))
    assert directory.refresh_of_user("u", now=101) == [record(1, 10), record(2, 50)]


def test_schema_3_upgrades_a_version_2_sqlite_database_in_place(tmp_path: Path) -> None:
    from deviceflow.server.storage.sqlite import SQLiteStorage, migrations

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        for version, sql in migrations():
            if version <= 2:
                conn.executescript(sql)
        conn.execute("PRAGMA user_version = 2")
        conn.execute(
            "INSERT INTO refresh_tokens VALUES ('r', 'f', 'c', 't', 'u', 'offline_access',"
            " 'device_code', 1.0, 50.0, 99.0, 'active')"
        )
    store = SQLiteStorage(path)
    try:
        old = store.find_refresh("r")
        assert old is not None and old.ip is None and old.user_agent is None
        assert store.refresh_of_user("u", now=2.0) == [old]
        assert store.insert_user(user())
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == max(migrations())[0]
