"""Client authentication in the grant engine (RFC 6749 §2.3): public and confidential clients."""

from __future__ import annotations

import dataclasses

import pytest

from deviceflow.server.grant import GrantError
from deviceflow.server.grant._clients import ClientAuthenticator
from deviceflow.server.security import hash_password, verify_password
from deviceflow.server.settings import Client, Settings

SECRET = "Sx9-kQ2vWm7pL0zR4tB8nC6yH1jF3gAe5dUo_Iq"
HASHED = hash_password(SECRET)


def authenticator(settings: Settings, calls: list[str]) -> ClientAuthenticator:
    def verify(password_hash: str | None, secret: str) -> bool:
        calls.append(secret)
        return verify_password(password_hash, secret)

    return ClientAuthenticator(lambda: settings, verify=verify)


def confidential(settings: Settings, secret_hash: str = HASHED) -> Settings:
    client = Client(client_id="svc", public=False, secret_hash=secret_hash)
    return dataclasses.replace(settings, clients=(*settings.clients, client))


def reason_of(auth: ClientAuthenticator, settings: Settings, secret: str | None) -> str | None:
    with pytest.raises(GrantError) as info:
        auth.client(settings.tenants[0], "svc", secret)
    assert (info.value.error, info.value.status) == ("invalid_client", 401)
    return info.value.reason


def test_the_right_secret_costs_one_argon2_check_then_a_digest(dev_settings: Settings) -> None:
    settings, calls = confidential(dev_settings), list[str]()
    auth = authenticator(settings, calls)
    for _ in range(3):  # a device polling every few seconds
        assert auth.client(settings.tenants[0], "svc", SECRET).client_id == "svc"
    assert calls == [SECRET]


def test_wrong_or_missing_secrets_are_refused_and_never_remembered(
    dev_settings: Settings,
) -> None:
    settings, calls = confidential(dev_settings), list[str]()
    auth = authenticator(settings, calls)
    assert reason_of(auth, settings, None) == "public_flows_disabled"
    auth.client(settings.tenants[0], "svc", SECRET)
    for _ in range(2):
        assert reason_of(auth, settings, "wrong") == "client_secret_invalid"
    assert calls == [SECRET, "wrong", "wrong"]


def test_a_new_secret_hash_forgets_the_remembered_secret(dev_settings: Settings) -> None:
    settings = confidential(dev_settings)
    current, calls = [settings], list[str]()

    def accept(password_hash: str | None, secret: str) -> bool:
        calls.append(secret)
        return True

    auth = ClientAuthenticator(lambda: current[0], verify=accept)
    auth.client(settings.tenants[0], "svc", SECRET)
    current[0] = confidential(dev_settings, hash_password("another-secret-of-enough-length"))
    auth.client(settings.tenants[0], "svc", SECRET)
    assert calls == [SECRET, SECRET]


def test_a_public_client_presenting_a_secret_is_refused(dev_settings: Settings) -> None:
    auth = authenticator(dev_settings, [])
    client_id = dev_settings.clients[0].client_id
    with pytest.raises(GrantError) as info:
        auth.client(dev_settings.tenants[0], client_id, "anything")
    assert (info.value.reason, info.value.status) == ("public_client_credential", 401)
    assert auth.client(dev_settings.tenants[0], client_id, None).client_id == client_id
