"""Keyring storage against a real Secret Service (GNOME Keyring on a private D-Bus session).

Skips locally when ``dbus-daemon`` or ``gnome-keyring-daemon`` is missing; fails in CI, where
``.ci/run`` installs them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from deviceflow.cache import AccessToken, Account, CacheEntry, FileTokenCache
from deviceflow.cache.keyring import SERVICE, KeyringSecrets
from deviceflow.cli.tokens import TokenManager
from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.transports import MockTransport
from tests.support.secret_service import reselect_keyring_backend, running_secret_service
from tests.unit.cli.fakeidp import BASE, FakeIdP, Harness


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


def test_cli_login_token_refresh_accounts_logout(
    secret_service: dict[str, str], tmp_path: Path
) -> None:
    import keyring

    h = Harness(tmp_path, FakeIdP())
    del h.environ["DEVICEFLOW_AUTHORITY"]
    h.environ["DEVICEFLOW_ISSUER"] = f"{BASE}/rfc"
    assert h.run("login", "--json", "--keyring") == 0, h.stderr.getvalue()
    path = h.cache().path("default")
    item = json.loads(path.read_text())["secrets"]["username"]
    assert "refresh-1" not in path.read_text()
    stored = keyring.get_password(SERVICE, item)
    assert stored is not None and json.loads(stored)["refresh_token"] == "refresh-1"

    assert h.run("token") == 0 and h.stdout.getvalue() == "access-1\n"
    h.now += 7200  # the access token expired: refresh, rotate, save in the keyring
    assert h.run("token") == 0 and h.stdout.getvalue() == "access-2\n"
    stored = keyring.get_password(SERVICE, item)
    assert stored is not None and json.loads(stored)["refresh_token"] == "refresh-2"
    assert "refresh-2" not in path.read_text()

    assert h.run("accounts") == 0 and "adele@demo.example" in h.stdout.getvalue()
    assert h.run("logout") == 0
    assert h.idp.revoked == ["refresh-2"]
    assert keyring.get_password(SERVICE, item) is None and not path.exists()


def test_concurrent_refreshes_spend_the_refresh_token_once(
    secret_service: dict[str, str], tmp_path: Path
) -> None:
    """Eight threads, each with its own cache object (own lock file handle), ask for a token
    whose access token expired: one refresh, and every later reader sees its rotation."""
    seed = FileTokenCache(tmp_path / "c", keyring=KeyringSecrets())
    expired = AccessToken(token="at-0", expires_at=time.time() - 1, scopes=("a",))
    seed.save(
        "default",
        CacheEntry(
            client_id="client",
            token_url="https://idp.example/token",
            device_authorization_url="https://idp.example/device",
            refresh_token="rt-0",
            access_tokens=(expired,),
        ),
    )
    grants: list[str] = []
    guard = threading.Lock()

    def handler(request: HttpRequest) -> HttpResponse:
        form = dict(parse_qsl(request.body.decode()))
        with guard:
            grants.append(form["refresh_token"])
            n = len(grants)
        body = {"access_token": f"at-{n}", "refresh_token": f"rt-{n}", "expires_in": 3600}
        return HttpResponse(status=200, body=json.dumps(body).encode())

    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            manager = TokenManager(
                FileTokenCache(tmp_path / "c"),
                "default",
                transport=MockTransport(handler),
                clock=time.time,
            )
            token = manager.access_token(())
            with guard:
                results.append(token)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert grants == ["rt-0"]
    assert results == ["at-1"] * 8
    loaded = FileTokenCache(tmp_path / "c").load("default")
    assert loaded is not None and loaded.refresh_token == "rt-1"
