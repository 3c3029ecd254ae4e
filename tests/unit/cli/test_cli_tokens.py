from __future__ import annotations

import json
from urllib.parse import parse_qsl

from deviceflow.cache import AccessToken, CacheEntry, MemoryTokenCache
from deviceflow.cli.tokens import (
    DEFAULT_LIFETIME,
    TokenManager,
    access_from_token,
    account_from_token,
)
from deviceflow.core import HttpRequest, HttpResponse, Token
from deviceflow.transports import MockTransport


def test_account_from_client_info_and_fallback_claims() -> None:
    token = Token(
        access_token="a",
        issued_at=0.0,
        id_token_claims={"upn": "u@x", "name": ""},
        client_info={"uid": "uid-1", "utid": "t"},
    )
    account = account_from_token(token)
    assert (account.username, account.name, account.subject) == ("u@x", None, "uid-1")
    assert account_from_token(Token(access_token="a", issued_at=0.0)).label() == "unknown account"


def test_access_without_expires_in_assumes_default_lifetime() -> None:
    token = Token(access_token="a", issued_at=100.0)
    access = access_from_token(token, ["User.Read"])
    assert access.expires_at == 100.0 + DEFAULT_LIFETIME
    assert access.scopes == ("User.Read",)


def test_v1_resource_refresh_sends_resource() -> None:
    forms: list[dict[str, str]] = []

    def handler(request: HttpRequest) -> HttpResponse:
        forms.append(dict(parse_qsl(request.body.decode())))
        body = {"access_token": "new", "token_type": "Bearer", "expires_in": "3600"}
        return HttpResponse(status=200, body=json.dumps(body).encode())

    cache = MemoryTokenCache()
    cache.save(
        "default",
        CacheEntry(
            client_id="c",
            token_url="https://login.test/t/oauth2/token",
            device_authorization_url="https://login.test/t/oauth2/devicecode",
            dialect="v1",
            resource="https://graph.microsoft.com",
            refresh_token="rt",
            access_tokens=(AccessToken(token="old", expires_at=0.0),),
        ),
    )
    manager = TokenManager(cache, "default", transport=MockTransport(handler), clock=lambda: 50.0)
    assert manager.access_token() == "new"
    assert forms[0]["resource"] == "https://graph.microsoft.com"
    assert forms[0]["refresh_token"] == "rt"
    entry = cache.load("default")
    assert entry is not None and entry.refresh_token == "rt"  # none issued: the old one stays
    assert manager.refreshes == 1


def test_claims_refresh_even_a_valid_token_and_are_sent() -> None:
    forms: list[dict[str, str]] = []

    def handler(request: HttpRequest) -> HttpResponse:
        forms.append(dict(parse_qsl(request.body.decode())))
        body = {"access_token": "fresh", "token_type": "Bearer", "expires_in": 3600}
        return HttpResponse(status=200, body=json.dumps(body).encode())

    cache = MemoryTokenCache()
    cache.save(
        "default",
        CacheEntry(
            client_id="c",
            token_url="https://login.test/t/oauth2/v2.0/token",
            device_authorization_url="https://login.test/t/oauth2/v2.0/devicecode",
            dialect="v2",
            scopes=("User.Read",),
            refresh_token="rt",
            access_tokens=(
                AccessToken(token="cached", expires_at=10_000.0, scopes=("User.Read",)),
            ),
        ),
    )
    manager = TokenManager(cache, "default", transport=MockTransport(handler), clock=lambda: 50.0)
    assert manager.access_token() == "cached"
    claims = '{"access_token":{"nbf":{"essential":true,"value":"51"}}}'
    access = manager.token(claims=claims)
    assert (access.token, access.expires_at) == ("fresh", 3650.0)
    assert forms == [
        {
            "grant_type": "refresh_token",
            "client_id": "c",
            "refresh_token": "rt",
            "scope": "User.Read",
            "client_info": "1",
            "claims": claims,
        }
    ]
