"""Keyring storage against a real Secret Service (GNOME Keyring on a private D-Bus session).

Skips locally when ``dbus-daemon`` or ``gnome-keyring-daemon`` is missing; fails in CI, where
``.ci/run`` installs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from deviceflow.cache import AccessToken, Account, CacheEntry
from deviceflow.cache.keyring import SERVICE, KeyringSecrets
from tests.secret_service import reselect_keyring_backend, running_secret_service


@pytest.fixture
def secret_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A running Secret Service; the ``keyring`` package of this process is pointed at it (and
    set back afterwards)."""
    import keyring

    previous = keyring.get_keyring()
    with running_secret_service(tmp_path / "secret-service") as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
        reselect_keyring_backend()
        try:
            yield env
        finally:
            keyring.set_keyring(previous)


def make_entry(refresh: str = "rt-real-1") -> CacheEntry:
    return CacheEntry(
        client_id="client",
        token_url="https://idp.example/token",
        device_authorization_url="https://idp.example/device",
        account=Account(username="alice@example.com"),
        refresh_token=refresh,
        access_tokens=(AccessToken(token="at-real-1", expires_at=2000.0, scopes=("a",)),),
        updated_at=1000.0,
    )


def test_the_backend_is_the_secret_service(secret_service: dict[str, str]) -> None:
    import keyring

    backend = keyring.get_keyring()
    assert type(backend).__module__ == "keyring.backends.SecretService"
    assert KeyringSecrets().backend is backend  # accepted, not refused


def test_round_trip_rotation_and_delete(secret_service: dict[str, str], tmp_path: Path) -> None:
    import keyring

    secrets = KeyringSecrets()
    name = secrets.username_for(tmp_path / "cache", "default")
    secrets.check(tmp_path / "cache", "default")
    public = secrets.store(make_entry().to_dict(), name)
    assert "rt-real-1" not in json.dumps(public)
    assert CacheEntry.from_dict(secrets.fill(public)) == make_entry()

    public = secrets.store(make_entry(refresh="rt-real-2").to_dict(), name)
    assert CacheEntry.from_dict(secrets.fill(public)).refresh_token == "rt-real-2"
    stored = keyring.get_password(SERVICE, name)  # the item another program would see
    assert stored is not None and json.loads(stored)["refresh_token"] == "rt-real-2"

    assert secrets.delete(public) is True
    assert keyring.get_password(SERVICE, name) is None
    assert secrets.delete(public) is False
