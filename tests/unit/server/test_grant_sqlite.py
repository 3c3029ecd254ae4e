"""The engine on SQLite: concurrency, restarts, what a dump reveals, and what logs reveal."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from deviceflow.server.grant import GrantError, IssuedTokens
from deviceflow.server.settings import DEMO_CLIENT_ID
from deviceflow.server.storage.base import Storage
from deviceflow.server.storage.sqlite import SQLiteStorage
from tests.support.grant import approve, poll, redeem, start, tenant_of
from tests.support.grant_fixtures import EngineFactory


def test_fifty_concurrent_redemptions_give_exactly_one_token_response(
    engine_factory: EngineFactory, storage_factory: Callable[[str], Storage]
) -> None:
    engine = engine_factory(storage=storage_factory("sqlite"))
    auth = start(engine)
    approve(engine, auth.user_code)
    barrier = threading.Barrier(50)
    wins: list[IssuedTokens] = []
    errors: list[str] = []
    lock = threading.Lock()

    def race() -> None:
        barrier.wait()
        try:
            tokens = redeem(engine, auth.device_code)
        except GrantError as exc:
            with lock:
                errors.append(exc.error)
        else:
            with lock:
                wins.append(tokens)

    threads = [threading.Thread(target=race) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert errors == ["invalid_grant"] * 49


def test_pending_flow_and_keys_survive_a_restart(
    engine_factory: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "restart.sqlite3"
    first_store = SQLiteStorage(path)
    first = engine_factory(storage=first_store)
    auth = start(first)
    jwks = first.jwks()
    first_store.close()
    second_store = SQLiteStorage(path)
    try:
        second = engine_factory(storage=second_store)
        approve(second, auth.user_code)
        tokens = redeem(second, auth.device_code)
        assert second.jwks() == jwks
        assert second.verify_access_token(tokens.access_token)["oid"] == tokens.user.id
    finally:
        second_store.close()


def test_database_dump_holds_no_raw_codes_or_tokens(
    engine_factory: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "dump.sqlite3"
    store = SQLiteStorage(path)
    try:
        engine = engine_factory(storage=store)
        secrets_seen: list[str] = []
        for _ in range(3):
            auth = start(engine)
            secrets_seen += [auth.device_code, auth.user_code, auth.user_code.replace("-", "")]
        approve(engine, auth.user_code)
        tokens = redeem(engine, auth.device_code)
        renewed = engine.refresh(
            tenant=tenant_of(engine),
            client_id=tokens.client.client_id,
            refresh_token=tokens.refresh_token or "",
            scope=None,
            ip="x",
        )
        secrets_seen += [
            tokens.refresh_token or "",
            renewed.refresh_token or "",
            tokens.access_token,
        ]
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        dump = "\n".join(conn.iterdump())
    conn.close()
    assert "device_grants" in dump
    for secret in secrets_seen:
        assert secret not in dump


def test_logs_hold_no_codes_tokens_or_passwords(
    engine_factory: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    engine = engine_factory()
    auth = start(engine)
    user = engine.authenticate(
        tenant=tenant_of(engine), username="adele", password="adele-password"
    )
    engine.authenticate(tenant=tenant_of(engine), username="adele", password="wrong-secret-pw")
    assert user is not None
    engine.verification.lookup_user_code(
        user_code=auth.user_code, ip="x", session="browser-session-secret"
    )
    for _ in range(6):
        with pytest.raises(Exception):  # noqa: B017 - any refusal; we look at the logs
            engine.verification.lookup_user_code(
                user_code="BCDF-BCDF", ip="x", session="browser-session-secret"
            )
    poll(engine, auth.device_code)  # pending
    approve(engine, auth.user_code)
    tokens = redeem(engine, auth.device_code)
    with pytest.raises(GrantError):
        poll(engine, auth.device_code)
    engine.revoke(tenant=tenant_of(engine), token=tokens.access_token, client_id=DEMO_CLIENT_ID)
    text = "\n".join(f"{r.getMessage()} {getattr(r, 'audit', '')}" for r in caplog.records)
    events = [r.audit["event"] for r in caplog.records if hasattr(r, "audit")]
    assert events.count("device_code_issued") == 1
    assert events.count("tokens_redeemed") == 1
    assert events.count("grant_approved") == 1
    assert events.count("redemption_replayed") == 1
    assert "user_code_lockout" in events and "sign_in" in events
    forbidden = [
        auth.device_code,
        auth.user_code,
        auth.user_code.replace("-", ""),
        tokens.access_token,
        tokens.refresh_token or "",
        tokens.id_token or "",
        "adele-password",
        "wrong-secret-pw",
        "browser-session-secret",
        "BCDFBCDF",
    ]
    for secret in forbidden:
        assert secret not in text


def test_migrations_set_the_schema_version(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "v.sqlite3")
    store.close()
    with sqlite3.connect(tmp_path / "v.sqlite3") as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert version >= 1 and mode == "wal"
    SQLiteStorage(tmp_path / "v.sqlite3").close()  # reopening applies nothing twice
