"""Security primitives and storage edge cases."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from pathlib import Path

import pytest

from deviceflow.server.grant import GrantError
from deviceflow.server.security import (
    CodeHasher,
    address_key,
    constant_time_equals,
    fingerprint,
)
from deviceflow.server.storage.sqlite import SQLiteStorage
from tests.support.grant import start
from tests.support.grant_fixtures import EngineFactory

KEY = "Zq7v0dXk2mW9pL4sR8tB1nC6yH3jF5gA"


@pytest.mark.parametrize("key", [b"k" * 16, bytes(range(64)), bytes(range(200))])
def test_digest_is_hmac_sha256_of_kind_and_value(key: bytes) -> None:
    # Stored grants and refresh tokens are found by these digests: the scheme must not drift.
    hasher = CodeHasher(key)
    for value in ("", "BCDF-GHJK", "d" * 43, "é✓"):
        expected = hmac.new(key, f"device:{value}".encode(), hashlib.sha256).hexdigest()
        assert hasher.digest("device", value) == expected
        assert hasher.digest("device", value) == expected  # the keyed state is not consumed


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        pytest.param("198.51.100.7", "198.51.100.7", id="ipv4 per address"),
        pytest.param("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", id="ipv6 by /64"),
        pytest.param("2001:DB8:1:2::1", "2001:db8:1:2::/64", id="ipv6 spelt another way"),
        pytest.param("::ffff:198.51.100.7", "198.51.100.7", id="ipv4-mapped ipv6"),
        pytest.param("fe80::1%eth0", "fe80::/64", id="scoped ipv6"),
        pytest.param("unknown", "unknown", id="not an address"),
    ],
)
def test_address_key_groups_ipv6_by_64(ip: str, key: str) -> None:
    assert address_key(ip) == key


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")


def test_code_hasher_is_keyed_and_domain_separated() -> None:
    one, two = CodeHasher(b"k" * 16), CodeHasher(b"j" * 16)
    assert one.digest("user", "BCDF") != two.digest("user", "BCDF")
    assert one.digest("user", "BCDF") != one.digest("device", "BCDF")
    assert len(one.digest("user", "BCDF")) == 64
    assert fingerprint(one.digest("user", "BCDF")) == one.digest("user", "BCDF")[:12]
    with pytest.raises(ValueError, match="16 bytes"):
        CodeHasher(b"short")


def test_configured_secret_key_makes_digests_reproducible(engine_factory: EngineFactory) -> None:
    first = engine_factory(secret_key=KEY)
    second = engine_factory(secret_key=KEY)
    auth = start(first)
    # a second engine (another instance) with the same key but its own storage cannot see it,
    # but derives the same digests, so instances sharing one database agree
    assert first._code_hasher().digest("device", auth.device_code) == second._code_hasher().digest(
        "device", auth.device_code
    )


def test_exhausted_user_code_space_answers_503(engine_factory: EngineFactory) -> None:
    engine = engine_factory(rng=lambda n: b"\x00" * n)
    start(engine)
    with pytest.raises(GrantError) as info:
        start(engine)
    assert (info.value.error, info.value.status) == ("temporarily_unavailable", 503)


def test_closed_sqlite_storage_refuses_new_connections(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "c.sqlite3")
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.get_value("ns", "k")


@pytest.mark.parametrize("key", ["tv2024", "tv2024" * 6])
def test_weak_secret_key_is_refused_by_the_engine_and_the_app_not_padded(
    engine_factory: EngineFactory, key: str
) -> None:
    # Settings built in code skip the file's validation: the engine and the session key refuse
    # a weak key themselves instead of padding it with NUL bytes into a "16-byte" key.
    from deviceflow.server.app import session_key
    from deviceflow.server.storage.memory import MemoryStorage

    with pytest.raises(ValueError, match="secret_key: ") as info:
        engine = engine_factory(secret_key=key)
        start(engine)
    assert "secrets.token_urlsafe(32)" in str(info.value)
    settings = engine_factory().settings
    with pytest.raises(ValueError, match="secret_key: "):
        session_key(dataclasses.replace(settings, secret_key=key), MemoryStorage(), bytes)
