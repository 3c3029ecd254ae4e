from __future__ import annotations

import pytest

from deviceflow.cache import AccessToken, Account, CacheEntry


def entry(*tokens: AccessToken, refresh: str | None = "rt") -> CacheEntry:
    return CacheEntry(
        client_id="c",
        token_url="https://idp/token",
        device_authorization_url="https://idp/device",
        refresh_token=refresh,
        access_tokens=tokens,
    )


def test_access_token_validity_honours_min_validity() -> None:
    token = AccessToken(token="t", expires_at=100.0)
    assert token.is_valid(50.0)
    assert token.is_valid(50.0, min_validity=49.0)
    assert not token.is_valid(50.0, min_validity=50.0)
    assert not token.is_valid(100.0)


def test_access_token_covers_ignores_oidc_scopes() -> None:
    token = AccessToken(token="t", expires_at=1.0, scopes=("User.Read", "Mail.Read"))
    assert token.covers(["User.Read", "offline_access", "openid", "profile"])
    assert token.covers([])
    assert not token.covers(["Presence.Read"])
    graph = AccessToken(
        token="t", expires_at=1.0, scopes=("https://graph.microsoft.com/User.Read",)
    )
    assert graph.covers(["user.read"])


def test_reprs_never_show_token_values() -> None:
    e = entry(AccessToken(token="secret-at", expires_at=1.0), refresh="secret-rt")
    assert "secret" not in repr(e)


def test_find_returns_valid_covering_token() -> None:
    a = AccessToken(token="a", expires_at=100.0, scopes=("A",))
    b = AccessToken(token="b", expires_at=500.0, scopes=("B",))
    e = entry(a, b)
    assert e.find(["B"], 10.0) is b
    assert e.find(["A"], 10.0, min_validity=95.0) is None
    assert e.find(["C"], 10.0) is None


def test_with_tokens_replaces_same_scopes_keeps_others_and_rotates_refresh() -> None:
    old = AccessToken(token="old", expires_at=100.0, scopes=("A",))
    other = AccessToken(token="other", expires_at=500.0, scopes=("B",))
    stale = AccessToken(token="stale", expires_at=5.0, scopes=("C",))
    new = AccessToken(token="new", expires_at=200.0, scopes=("A",))
    updated = entry(old, other, stale).with_tokens(new, refresh_token="rt2", now=10.0)
    assert updated.access_tokens == (new, other)
    assert updated.refresh_token == "rt2"
    assert updated.updated_at == 10.0


def test_with_tokens_keeps_refresh_token_when_server_sends_none() -> None:
    new = AccessToken(token="new", expires_at=200.0)
    assert entry().with_tokens(new, refresh_token=None, now=1.0).refresh_token == "rt"


def test_account_label() -> None:
    assert Account(username="a@x", name="A").label() == "A <a@x>"
    assert Account(username="a@x").label() == "a@x"
    assert Account(subject="s").label() == "s"
    assert Account().label() == "unknown account"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"account": ["x"]}, "account"),
        ({"access_tokens": {"a": 1}}, "access_tokens"),
        ({"access_tokens": [1]}, "object"),
        ({"access_tokens": [{"token": "t", "expires_at": 1, "scopes": "x"}]}, "scopes"),
        ({"client_id": 3}, "client_id"),
        ({"issuer": 3}, "issuer"),
        ({"updated_at": True}, "updated_at"),
    ],
)
def test_from_dict_rejects_bad_members(patch: dict[str, object], message: str) -> None:
    data = {**entry(AccessToken(token="t", expires_at=1.0)).to_dict(), **patch}
    with pytest.raises(ValueError, match=message):
        CacheEntry.from_dict(data)
