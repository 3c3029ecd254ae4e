"""Token values, token responses and the refresh grant."""

from __future__ import annotations

import base64
import json

import pytest

from deviceflow.core import (
    InvalidGrantError,
    OAuthError,
    RemoteProtocolError,
    Token,
    microsoft_endpoints,
    parse_token_response,
    refresh_request,
)

from ._support import GRAPH, RFC, V1, V2, form, respond


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_parse_token_response_v2_decodes_id_token_and_client_info() -> None:
    claims = {"name": "Adele Vance", "preferred_username": "adele@contoso.com", "tid": "t"}
    body = V2.token_body(
        id_token="eyJhbGciOiJSUzI1NiJ9." + _b64(claims) + ".signature",
        client_info=_b64({"uid": "u", "utid": "t"}),
    )
    token = parse_token_response(respond(200, body), 50.0)
    assert token.id_token_claims == claims
    assert token.client_info == {"uid": "u", "utid": "t"}
    assert token.scopes == ("User.Read", "openid", "profile")
    assert (token.expires_in, token.ext_expires_in, token.expires_at) == (3599, 3599, 3649.0)
    assert token.raw["token_type"] == "Bearer"


def test_parse_token_response_v1_string_numbers_and_resource() -> None:
    token = parse_token_response(respond(200, V1.token_body()), 0, resource="fallback")
    assert (token.expires_in, token.resource, token.scopes) == (3599, GRAPH, ())


def test_parse_token_response_minimal_rfc_defaults() -> None:
    token = parse_token_response(respond(200, {"access_token": "A"}), 0, requested_scopes=("a",))
    assert (token.token_type, token.expires_in, token.expires_at, token.scopes) == (
        "Bearer",
        None,
        None,
        ("a",),
    )
    assert not token.is_expired(10**9)
    assert token.id_token_claims is None and token.client_info is None


def test_parse_token_response_undecodable_id_token_and_client_info_are_none() -> None:
    token = parse_token_response(
        respond(200, {"access_token": "A", "id_token": "x.%%%.y", "client_info": "!!"}), 0
    )
    assert token.id_token == "x.%%%.y"
    assert token.id_token_claims is None and token.client_info is None


@pytest.mark.parametrize(
    ("response", "exc", "text"),
    [
        pytest.param(
            respond(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "AADSTS700082: The refresh token has expired due to "
                    "inactivity.",
                },
            ),
            InvalidGrantError,
            "expired through inactivity",
            id="refresh-token-inactive",
        ),
        pytest.param(respond(503, {"error": "whatever"}), OAuthError, "whatever", id="unknown-503"),
        pytest.param(
            respond(503, b"<h1>down</h1>"), RemoteProtocolError, "'<h1>down</h1>'", id="html"
        ),
        pytest.param(
            respond(500, {"a": 1}), RemoteProtocolError, "no 'error' member", id="no-error"
        ),
        pytest.param(respond(200, {"a": 1}), RemoteProtocolError, "'access_token'", id="no-token"),
    ],
)
def test_parse_token_response_errors_raise_typed(
    response: object, exc: type[Exception], text: str
) -> None:
    with pytest.raises(exc) as info:
        parse_token_response(response, 0)  # type: ignore[arg-type]
    assert text in str(info.value)
    assert type(info.value) is exc


def test_token_expiry_leeway_and_rebase() -> None:
    token = Token(access_token="A", expires_in=100, issued_at=1000.0, scopes=("a",))
    assert not token.is_expired(1000)
    assert token.is_expired(1000, leeway=100)
    assert token.is_expired(1100)
    wall = token.with_issued_at(1_700_000_000.0)
    assert wall.expires_at == 1_700_000_100.0 and wall.access_token == "A"
    assert wall != token and token == Token(
        access_token="A", expires_in=100, issued_at=1000.0, scopes=("a",)
    )
    assert token != "A" and hash(token) == hash(Token(access_token="A", issued_at=1000.0))


def test_token_repr_never_shows_secrets() -> None:
    token = Token(access_token="AT-SECRET", refresh_token="RT-SECRET", id_token="ID", issued_at=0)
    assert repr(token) == "<Token Bearer scopes=() expires_in=None refresh_token=yes id_token=yes>"


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        pytest.param({"access_token": ""}, TypeError, id="empty-access-token"),
        pytest.param({"token_type": ""}, TypeError, id="empty-type"),
        pytest.param({"issued_at": "now"}, TypeError, id="issued-at-str"),
        pytest.param({"issued_at": float("nan")}, TypeError, id="issued-at-nan"),
        pytest.param({"expires_in": -1}, ValueError, id="negative-expiry"),
        pytest.param({"expires_in": True}, ValueError, id="bool-expiry"),
        pytest.param({"scopes": ("a b",)}, ValueError, id="scope-with-space"),
        pytest.param({"refresh_token": ""}, TypeError, id="empty-refresh"),
        pytest.param({"id_token_claims": []}, TypeError, id="claims-not-dict"),
        pytest.param({"client_info": "x"}, TypeError, id="client-info-not-dict"),
        pytest.param({"raw": []}, TypeError, id="raw-not-dict"),
    ],
)
def test_token_constructor_invalid_values_raise(kwargs: dict, exc: type[Exception]) -> None:
    values: dict[str, object] = {"access_token": "A", "issued_at": 0}
    values.update(kwargs)
    with pytest.raises(exc):
        Token(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("endpoints", "kwargs", "expected"),
    [
        pytest.param(
            V2.endpoints,
            {"scopes": ["User.Read", "offline_access"]},
            {"scope": "User.Read offline_access", "client_info": "1"},
            id="v2",
        ),
        pytest.param(
            V1.endpoints,
            {"resource": GRAPH},
            {"resource": GRAPH},
            id="v1",
        ),
        pytest.param(
            RFC.endpoints,
            {"resource": "https://api.example.test"},
            {"resource": "https://api.example.test"},
            id="rfc8628-keeps-original-scope",
        ),
    ],
)
@pytest.mark.spec("RFC6749", "6")
def test_refresh_request_each_dialect_sends_its_form(
    endpoints: object, kwargs: dict, expected: dict[str, str]
) -> None:
    request = refresh_request(endpoints, "client-1", "RT", **kwargs)  # type: ignore[arg-type]
    assert request.url == endpoints.token_url  # type: ignore[attr-defined]
    assert request.header("Accept") == "application/json"
    assert form(request) == {
        "grant_type": "refresh_token",
        "client_id": "client-1",
        "refresh_token": "RT",
        **expected,
    }


@pytest.mark.parametrize(
    ("args", "kwargs", "exc"),
    [
        pytest.param(("x", "c", "RT"), {}, TypeError, id="endpoints"),
        pytest.param((V2.endpoints, "", "RT"), {}, ValueError, id="client-id"),
        pytest.param((V2.endpoints, "c", ""), {}, ValueError, id="refresh-token"),
        pytest.param(
            (microsoft_endpoints(version="v1"), "c", "RT"), {}, ValueError, id="v1-resource"
        ),
    ],
)
def test_refresh_request_bad_arguments_raise(args: tuple, kwargs: dict, exc: type) -> None:
    with pytest.raises(exc):
        refresh_request(*args, **kwargs)
