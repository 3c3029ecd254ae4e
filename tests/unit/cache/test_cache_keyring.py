"""Keyring storage of a profile's tokens: the storage logic with an in-memory backend, and the
refusal of every backend that is not a real keyring (the real ``keyring`` package included: on a
headless box without a D-Bus Secret Service it has none, and we must say so, not fall back)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deviceflow.cache import AccessToken, Account, CacheEntry, CacheError, FileTokenCache
from deviceflow.cache.keyring import (
    MARKER,
    SERVICE,
    KeyringSecrets,
    KeyringUnavailableError,
    check_backend,
    default_backend,
    marker_username,
)
from tests.support.secret_service import headless_keyring_backend, reselect_keyring_backend


class DictKeyring:
    """A stand-in for a real backend (its module is this test's: not a refused one)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}
        self.calls: list[str] = []
        self.fail: Exception | None = None

    def get_password(self, service: str, username: str) -> str | None:
        self.calls.append("get")
        if self.fail is not None:
            raise self.fail
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls.append("set")
        if self.fail is not None:
            raise self.fail
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.calls.append("delete")
        if self.fail is not None:
            raise self.fail
        del self.items[(service, username)]


def _fake(module: str, name: str = "Keyring", **attrs: Any) -> object:
    cls = type(name, (), {"__module__": module, **attrs})
    return cls()


def make_entry(refresh: str = "rt-secret-1", access: str = "at-secret-1") -> CacheEntry:
    return CacheEntry(
        client_id="client",
        token_url="https://idp.example/token",
        device_authorization_url="https://idp.example/device",
        issuer="https://idp.example",
        scopes=("User.Read", "offline_access"),
        account=Account(username="alice@example.com", name="Alice", subject="42"),
        refresh_token=refresh,
        access_tokens=(AccessToken(token=access, expires_at=2000.0, scopes=("User.Read",)),),
        updated_at=1000.0,
    )


# -- storage logic ---------------------------------------------------------------------------


def test_store_moves_every_token_into_one_item_and_marks_the_file(tmp_path: Path) -> None:
    backend = DictKeyring()
    secrets = KeyringSecrets(backend)
    name = secrets.username_for(tmp_path, "work")
    public = secrets.store(make_entry().to_dict(), name)

    text = json.dumps(public)
    assert "rt-secret-1" not in text and "at-secret-1" not in text
    assert public["refresh_token"] is None and public["access_tokens"] == []
    assert public[MARKER] == {"store": "keyring", "service": SERVICE, "username": name}
    assert public["account"]["username"] == "alice@example.com"  # metadata stays in the file
    assert marker_username(public) == name

    (stored,) = backend.items.values()
    assert json.loads(stored)["refresh_token"] == "rt-secret-1"
    assert CacheEntry.from_dict(secrets.fill(public)) == make_entry()


def test_item_names_differ_per_profile_and_cache_directory(tmp_path: Path) -> None:
    secrets = KeyringSecrets(DictKeyring())
    a, b = tmp_path / "a", tmp_path / "b"
    names = {secrets.username_for(a, "p"), secrets.username_for(b, "p")}
    names.add(secrets.username_for(a, "q"))
    assert len(names) == 3
    assert secrets.username_for(a, "p").startswith("p@")
    assert secrets.username_for(a, "p") == secrets.username_for(a / "." / "", "p")


def test_rotation_replaces_the_item(tmp_path: Path) -> None:
    backend = DictKeyring()
    secrets = KeyringSecrets(backend)
    name = secrets.username_for(tmp_path, "default")
    secrets.store(make_entry().to_dict(), name)
    public = secrets.store(make_entry(refresh="rt-secret-2", access="at-2").to_dict(), name)
    assert len(backend.items) == 1
    assert CacheEntry.from_dict(secrets.fill(public)).refresh_token == "rt-secret-2"


@pytest.mark.parametrize("raw", [None, "not json", '{"version": 2}', "[]"])
def test_missing_or_unreadable_item_reads_as_a_profile_without_tokens(
    tmp_path: Path, raw: str | None
) -> None:
    backend = DictKeyring()
    secrets = KeyringSecrets(backend)
    public = secrets.store(make_entry().to_dict(), "default@x")
    if raw is None:
        backend.items.clear()
    else:
        backend.items[(SERVICE, "default@x")] = raw
    entry = CacheEntry.from_dict(secrets.fill(public))
    assert entry.refresh_token is None and entry.access_tokens == ()
    assert entry.account.name == "Alice"


def test_fill_without_marker_is_the_file_itself() -> None:
    data = make_entry().to_dict()
    backend = DictKeyring()
    assert KeyringSecrets(backend).fill(data) == data
    assert backend.calls == []


@pytest.mark.parametrize(
    "marker",
    [
        "keyring",
        {"store": "file", "service": "s", "username": "u"},
        {"store": "keyring", "service": 1, "username": "u"},
        {"store": "keyring", "service": "s", "username": ""},
    ],
)
def test_malformed_marker_is_a_corrupt_file(marker: object) -> None:
    data = {**make_entry().to_dict(), MARKER: marker}
    with pytest.raises(ValueError, match="keyring item"):
        KeyringSecrets(DictKeyring()).fill(data)


def test_delete_removes_the_item_once() -> None:
    backend = DictKeyring()
    secrets = KeyringSecrets(backend)
    public = secrets.store(make_entry().to_dict(), "default@x")
    assert secrets.delete(public) is True
    assert backend.items == {}
    assert secrets.delete(public) is False
    assert secrets.delete(make_entry().to_dict()) is False  # no marker: nothing in the keyring


@pytest.mark.parametrize("action", ["store", "fill", "delete", "check"])
def test_backend_errors_become_one_line_cache_errors_without_secrets(
    tmp_path: Path, action: str
) -> None:
    backend = DictKeyring()
    secrets = KeyringSecrets(backend)
    public = secrets.store(make_entry().to_dict(), "work@x")
    backend.fail = RuntimeError("Failed to unlock the collection!\nmore detail")
    with pytest.raises(KeyringUnavailableError) as caught:
        if action == "store":
            secrets.store(make_entry().to_dict(), "work@x")
        elif action == "fill":
            secrets.fill(public)
        elif action == "delete":
            secrets.delete(public)
        else:
            secrets.check(tmp_path, "work")
    message = str(caught.value)
    assert isinstance(caught.value, CacheError)
    assert "\n" not in message and "unlock the keyring" in message
    assert "secret" not in message.replace("secrets", "")  # no token text
    assert "Failed to unlock the collection!" in message


# -- refusal ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        (_fake("keyring.backends.fail"), "found no backend"),
        (_fake("keyring.backends.null"), "stores nothing"),
        (_fake("keyrings.alt.file", "PlaintextKeyring"), "plain file"),
        (_fake("keyrings.alt.file", "EncryptedKeyring"), "plain file"),
        (_fake("keyring.backends.chainer", "ChainerBackend", backends=[]), "found no backend"),
        (
            _fake(
                "keyring.backends.chainer",
                "ChainerBackend",
                backends=[DictKeyring(), _fake("keyrings.alt.file", "PlaintextKeyring")],
            ),
            "plain file",
        ),
    ],
)
def test_refused_backends(backend: object, reason: str) -> None:
    with pytest.raises(KeyringUnavailableError, match=reason) as caught:
        check_backend(backend)
    assert "without --keyring" in str(caught.value)  # names the fix
    with pytest.raises(KeyringUnavailableError):
        KeyringSecrets(backend)  # type: ignore[arg-type]


def test_accepted_backends() -> None:
    check_backend(DictKeyring())
    check_backend(_fake("keyring.backends.SecretService"))
    check_backend(_fake("keyring.backends.chainer", "ChainerBackend", backends=[DictKeyring()]))


@pytest.fixture
def headless_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The real keyring package, choosing its backend as on a headless box (no D-Bus session,
    no keyring configuration)."""
    with headless_keyring_backend(monkeypatch, tmp_path):
        yield


def test_real_keyring_package_without_a_secret_service_is_refused(
    headless_keyring: None, tmp_path: Path
) -> None:
    import keyring
    from keyring.backends import fail

    if not isinstance(keyring.get_keyring(), fail.Keyring):
        pytest.skip(f"this machine has a keyring without D-Bus: {keyring.get_keyring()!r}")
    with pytest.raises(KeyringUnavailableError, match="found no backend") as caught:
        default_backend()
    assert len(str(caught.value).splitlines()) == 1
    with pytest.raises(KeyringUnavailableError):
        KeyringSecrets().check(tmp_path, "default")


def test_real_keyring_package_with_its_null_backend_is_refused(
    headless_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    reselect_keyring_backend()
    with pytest.raises(KeyringUnavailableError, match="stores nothing"):
        default_backend()


def test_missing_keyring_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # makes "import keyring" fail
    with pytest.raises(KeyringUnavailableError, match=r"deviceflow\[keyring\]"):
        default_backend()


# -- the file cache with keyring storage ------------------------------------------------------


@pytest.fixture
def dict_keyring(monkeypatch: pytest.MonkeyPatch) -> DictKeyring:
    """A :class:`DictKeyring` that the ``keyring`` package hands out as its backend."""
    import keyring

    backend = DictKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: backend)
    return backend


def test_file_cache_keeps_tokens_out_of_the_file(tmp_path: Path, dict_keyring: DictKeyring) -> None:
    cache = FileTokenCache(tmp_path / "c", keyring=KeyringSecrets(dict_keyring))
    with cache.lock("work"):
        cache.save("work", make_entry())
    raw = cache.path("work").read_text()
    assert "rt-secret-1" not in raw and "at-secret-1" not in raw
    assert json.loads(raw)[MARKER]["username"].startswith("work@")
    assert oct(cache.path("work").stat().st_mode & 0o777) == "0o600"
    assert cache.load("work") == make_entry()
    assert FileTokenCache(tmp_path / "c").load("work") == make_entry()  # without asking
    assert cache.profiles() == ["work"]


def test_file_cache_moves_a_plaintext_profile_into_the_keyring(
    tmp_path: Path, dict_keyring: DictKeyring
) -> None:
    FileTokenCache(tmp_path / "c").save("default", make_entry())
    cache = FileTokenCache(tmp_path / "c", keyring=KeyringSecrets(dict_keyring))
    cache.save("default", make_entry(refresh="rt-secret-2"))
    assert "rt-secret" not in cache.path("default").read_text()
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.endswith(".tmp")]
    assert cache.load("default") == make_entry(refresh="rt-secret-2")


def test_a_keyring_profile_stays_there_on_saves_without_asking(
    tmp_path: Path, dict_keyring: DictKeyring
) -> None:
    FileTokenCache(tmp_path / "c", keyring=KeyringSecrets(dict_keyring)).save("p", make_entry())
    plain = FileTokenCache(tmp_path / "c")
    with plain.lock("p"):
        entry = plain.load("p")
        assert entry is not None
        plain.save(
            "p",
            entry.with_tokens(
                AccessToken(token="at-secret-2", expires_at=3000.0, scopes=("User.Read",)),
                refresh_token="rt-secret-2",
                now=1500.0,
            ),
        )
    assert "secret" not in plain.path("p").read_text().replace('"secrets"', "")
    (item,) = dict_keyring.items.values()
    assert json.loads(item)["refresh_token"] == "rt-secret-2"
    loaded = plain.load("p")
    assert loaded is not None and loaded.refresh_token == "rt-secret-2"


def test_file_cache_remove_deletes_the_item_first(
    tmp_path: Path, dict_keyring: DictKeyring
) -> None:
    cache = FileTokenCache(tmp_path / "c", keyring=KeyringSecrets(dict_keyring))
    cache.save("p", make_entry())
    dict_keyring.fail = RuntimeError("locked")
    with pytest.raises(KeyringUnavailableError):
        cache.remove("p")
    assert cache.path("p").exists()  # still names the item: logout can be retried
    dict_keyring.fail = None
    assert cache.remove("p") is True
    assert dict_keyring.items == {} and not cache.path("p").exists()
    assert cache.remove("p") is False


def test_unreadable_keyring_is_an_error_not_a_corrupt_file(
    tmp_path: Path, dict_keyring: DictKeyring
) -> None:
    cache = FileTokenCache(tmp_path / "c", keyring=KeyringSecrets(dict_keyring))
    cache.save("p", make_entry())
    dict_keyring.fail = RuntimeError("locked")
    with pytest.raises(KeyringUnavailableError):
        FileTokenCache(tmp_path / "c").load("p")
    assert cache.path("p").exists()  # not set aside


def test_keyring_profile_without_a_backend_is_refused_not_read_as_plaintext(
    tmp_path: Path, headless_keyring: None
) -> None:
    import keyring
    from keyring.backends import fail

    cache = FileTokenCache(tmp_path / "c", keyring=KeyringSecrets(DictKeyring()))
    cache.save("p", make_entry())
    if not isinstance(keyring.get_keyring(), fail.Keyring):
        pytest.skip("this machine has a keyring without D-Bus")
    plain = FileTokenCache(tmp_path / "c")
    with pytest.raises(KeyringUnavailableError, match="found no backend"):
        plain.load("p")
    with pytest.raises(KeyringUnavailableError):
        plain.save("p", make_entry(refresh="rt-secret-2"))
    assert "rt-secret" not in plain.path("p").read_text()  # never written in plaintext


def test_default_path_never_imports_keyring(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from deviceflow.cache.file import FileTokenCache\n"
        "from deviceflow.cache import AccessToken, CacheEntry\n"
        f"cache = FileTokenCache(Path({str(tmp_path / 'c')!r}))\n"
        "entry = CacheEntry(client_id='c', token_url='t', device_authorization_url='d',\n"
        "    refresh_token='r', access_tokens=(AccessToken(token='a', expires_at=9.0),))\n"
        "with cache.lock('p'):\n"
        "    cache.save('p', entry); cache.save('p', entry)\n"
        "assert cache.load('p') == entry and cache.profiles() == ['p']\n"
        "assert cache.remove('p')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'keyring'"
        " or m == 'deviceflow.cache.keyring')\n"
        "assert loaded == [], loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
