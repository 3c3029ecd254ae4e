"""``login --keyring`` / ``DEVICEFLOW_KEYRING``: tokens in the OS keyring, the rest in the file
cache; ``token``, ``accounts`` and ``logout`` unchanged; a refusal (exit 2) when no real backend
exists, before anything is signed in or refreshed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from deviceflow.cache import AccessToken
from tests.support.secret_service import headless_keyring_backend
from tests.unit.cache.test_cache_keyring import DictKeyring
from tests.unit.cli.fakeidp import BASE, FakeIdP, Harness


@pytest.fixture
def dict_keyring(monkeypatch: pytest.MonkeyPatch) -> DictKeyring:
    import keyring

    backend = DictKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: backend)
    return backend


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The real keyring package as on a headless box: no D-Bus session, hence no backend."""
    import keyring
    from keyring.backends import fail

    with headless_keyring_backend(monkeypatch, tmp_path / "kr"):
        if not isinstance(keyring.get_keyring(), fail.Keyring):
            pytest.skip("this machine has a keyring without D-Bus")
        yield


def file_text(h: Harness, profile: str = "default") -> str:
    return h.cache().path(profile).read_text(encoding="utf-8")


def expire(h: Harness, profile: str = "default") -> None:
    cache = h.cache()
    with cache.lock(profile):
        entry = cache.load(profile)
        assert entry is not None
        old = entry.access_tokens[0]
        stale = AccessToken(token=old.token, expires_at=h.now - 1, scopes=old.scopes)
        cache.save(profile, entry.with_tokens(stale, refresh_token=entry.refresh_token, now=h.now))


def test_login_keyring_token_accounts_logout(tmp_path: Path, dict_keyring: DictKeyring) -> None:
    h = Harness(tmp_path, FakeIdP())
    del h.environ["DEVICEFLOW_AUTHORITY"]  # a generic issuer: it has a revocation endpoint
    h.environ["DEVICEFLOW_ISSUER"] = f"{BASE}/rfc"
    assert h.run("login", "--json", "--keyring") == 0, h.stderr.getvalue()
    text = file_text(h)
    assert "access-1" not in text and "refresh-1" not in text
    assert json.loads(text)["secrets"]["store"] == "keyring"
    (item,) = dict_keyring.items.values()
    assert json.loads(item)["refresh_token"] == "refresh-1"

    assert h.run("token") == 0  # no flag needed: the file says where the tokens are
    assert h.stdout.getvalue() == "access-1\n"

    expire(h)
    assert h.run("token") == 0
    assert h.stdout.getvalue() == "access-2\n"
    assert h.idp.refresh_grants[0]["refresh_token"] == "refresh-1"
    (item,) = dict_keyring.items.values()
    assert json.loads(item)["refresh_token"] == "refresh-2"  # the rotation, saved at once
    assert "refresh-2" not in file_text(h) and "access-2" not in file_text(h)

    assert h.run("accounts") == 0
    assert "adele@demo.example" in h.stdout.getvalue()

    assert h.run("logout") == 0
    assert h.idp.revoked == ["refresh-2"]
    assert dict_keyring.items == {}
    assert not h.cache().path("default").exists()


@pytest.mark.parametrize("where", ["environment", "config"])
def test_keyring_from_environment_or_config(
    tmp_path: Path, dict_keyring: DictKeyring, where: str
) -> None:
    h = Harness(tmp_path, FakeIdP())
    if where == "environment":
        h.environ["DEVICEFLOW_KEYRING"] = "1"
    else:
        config = tmp_path / "config.ini"
        config.write_text("[DEFAULT]\nkeyring = true\n", encoding="utf-8")
        h.environ["DEVICEFLOW_CLI_CONFIG"] = str(config)
    assert h.run("login", "--json") == 0, h.stderr.getvalue()
    assert "refresh-1" not in file_text(h)
    assert len(dict_keyring.items) == 1


def test_keyring_setting_must_be_a_boolean(tmp_path: Path) -> None:
    h = Harness(tmp_path, FakeIdP())
    h.environ["DEVICEFLOW_KEYRING"] = "maybe"
    assert h.run("login", "--json") == 2
    assert "keyring must be true or false" in h.stderr.getvalue()
    assert h.idp.issued == 0


def test_login_keyring_without_a_backend_exits_2_before_signing_in(
    tmp_path: Path, no_keyring: None
) -> None:
    h = Harness(tmp_path, FakeIdP())
    assert h.run("login", "--keyring") == 2
    lines = h.stderr.getvalue().splitlines()
    assert lines[-1].startswith("deviceflow: no usable OS keyring: ")
    assert "gnome-keyring" in lines[-1] and "without --keyring" in lines[-1]
    assert h.idp.issued == 0 and "code" not in h.stdout.getvalue().lower()
    assert not h.cache_dir.exists() or h.cache().profiles() == []


def test_token_with_keyring_asked_but_missing_refreshes_nothing(
    tmp_path: Path, no_keyring: None
) -> None:
    h = Harness(tmp_path, FakeIdP())
    assert h.run("login", "--json") == 0  # plaintext: not asked
    expire(h)
    h.environ["DEVICEFLOW_KEYRING"] = "1"
    assert h.run("token") == 2
    assert "no usable OS keyring" in h.stderr.getvalue()
    assert h.idp.refresh_grants == []  # the refresh token was not spent
    assert "refresh-1" in file_text(h)


def test_keyring_profile_read_without_a_backend_exits_2(
    tmp_path: Path, dict_keyring: DictKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    from keyring.backends import fail

    h = Harness(tmp_path, FakeIdP())
    assert h.run("login", "--json", "--keyring") == 0
    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)
    for command in ("token", "accounts", "logout"):
        assert h.run(command) == 2, command
        assert "no usable OS keyring" in h.stderr.getvalue()
    assert h.cache().path("default").exists()
    assert len(dict_keyring.items) == 1
