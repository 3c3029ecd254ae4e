"""The Graph client answering claims challenges (continuous access evaluation)."""

from __future__ import annotations

import base64
import json

import pytest

from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.errors import InvalidGrantError, TransportError
from deviceflow.graph import GraphClient, GraphUnauthorizedError
from deviceflow.transports import MockTransport

BASE = "http://graph.test"
CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1700000001"}}}'
CHALLENGE = {
    "WWW-Authenticate": 'Bearer realm="", error="insufficient_claims", claims="'
    + base64.b64encode(CLAIMS.encode()).decode()
    + '"'
}


class Tokens:
    """A token source that records how it was asked; ``refuse`` fails refreshes with claims."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.calls: list[tuple[bool, str | None]] = []
        self.refuse = refuse

    def __call__(self, *, force_refresh: bool = False, claims: str | None = None) -> str:
        self.calls.append((force_refresh, claims))
        if claims and self.refuse is not None:
            raise self.refuse
        return "fresh" if claims else "stale"


def reply(status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(status=status, headers=headers or {}, body=json.dumps({"id": "1"}).encode())


def graph_answering(*answers: HttpResponse) -> tuple[list[HttpRequest], MockTransport]:
    seen: list[HttpRequest] = []
    queue = list(answers)

    def handler(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return queue.pop(0)

    return seen, MockTransport(handler)


def test_a_challenge_is_answered_with_a_token_for_its_claims() -> None:
    seen, transport = graph_answering(reply(401, CHALLENGE), reply(200))
    tokens = Tokens()
    body = GraphClient(transport, tokens, base_url=BASE).get("me")
    assert body == {"id": "1"}
    assert tokens.calls == [(False, None), (True, CLAIMS)]
    assert [r.header("Authorization") for r in seen] == ["Bearer stale", "Bearer fresh"]


def test_a_refused_refresh_asks_for_a_sign_in_with_the_claims() -> None:
    _, transport = graph_answering(reply(401, CHALLENGE))
    tokens = Tokens(refuse=InvalidGrantError("invalid_grant", "AADSTS50173: revoked"))
    with pytest.raises(GraphUnauthorizedError, match="sign in again") as refused:
        GraphClient(transport, tokens, base_url=BASE).get("me")
    assert refused.value.claims == CLAIMS
    assert refused.value.status == 401
    assert isinstance(refused.value.__cause__, InvalidGrantError)


def test_a_network_failure_of_the_refresh_is_not_a_sign_in_matter() -> None:
    _, transport = graph_answering(reply(401, CHALLENGE))
    tokens = Tokens(refuse=TransportError("down"))
    with pytest.raises(TransportError):
        GraphClient(transport, tokens, base_url=BASE).get("me")


def test_a_second_challenge_carries_the_claims() -> None:
    _, transport = graph_answering(reply(401, CHALLENGE), reply(401, CHALLENGE))
    with pytest.raises(GraphUnauthorizedError, match="claims challenge") as refused:
        GraphClient(transport, Tokens(), base_url=BASE).get("me")
    assert refused.value.claims == CLAIMS


def test_a_plain_401_refreshes_without_claims_and_sources_need_no_claims() -> None:
    calls: list[bool] = []

    def source(*, force_refresh: bool = False) -> str:
        calls.append(force_refresh)
        return "t"

    _, transport = graph_answering(reply(401, {"WWW-Authenticate": 'Bearer realm=""'}), reply(200))
    assert GraphClient(transport, source, base_url=BASE).get("me") == {"id": "1"}
    assert calls == [False, True]
