from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.errors import ConnectError
from deviceflow.graph import GraphClient, GraphError, GraphUnauthorizedError
from deviceflow.transports import MockTransport

BASE = "http://graph.test"


class Tokens:
    """A token source that counts refreshes."""

    def __init__(self) -> None:
        self.refreshes = 0

    def __call__(self, *, force_refresh: bool = False) -> str:
        if force_refresh:
            self.refreshes += 1
        return f"at-{self.refreshes}"


def reply(status: int, body: object = None, headers: dict[str, str] | None = None) -> HttpResponse:
    data = b"" if body is None else json.dumps(body).encode()
    return HttpResponse(status=status, headers=headers or {}, body=data)


def make(
    handler: Callable[[HttpRequest], HttpResponse], **kwargs: object
) -> tuple[GraphClient, MockTransport, Tokens, list[float]]:
    transport = MockTransport(handler)
    tokens = Tokens()
    sleeps: list[float] = []
    client = GraphClient(
        transport, tokens, base_url=BASE + "/", sleep=sleeps.append, clock=lambda: 1000.0, **kwargs
    )  # type: ignore[arg-type]
    return client, transport, tokens, sleeps


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("me", f"{BASE}/v1.0/me"),
        ("/me/presence", f"{BASE}/v1.0/me/presence"),
        ("/v1.0/users", f"{BASE}/v1.0/users"),
        ("beta/me", f"{BASE}/beta/me"),
        (f"{BASE}/v1.0/users?$skiptoken=x", f"{BASE}/v1.0/users?$skiptoken=x"),
    ],
)
def test_graph_url_joins_paths(path: str, url: str) -> None:
    client, *_ = make(lambda r: reply(200))
    assert client.url(path) == url


def test_graph_url_refuses_other_origins() -> None:
    client, *_ = make(lambda r: reply(200))
    with pytest.raises(GraphError, match="refusing to send the token"):
        client.url("https://evil.example/v1.0/me")


def test_graph_get_sends_bearer_and_decodes_json() -> None:
    client, transport, _, _ = make(lambda r: reply(200, {"displayName": "Alice"}))
    assert client.get("me") == {"displayName": "Alice"}
    (request,) = transport.requests
    assert request.method == "GET"
    assert request.header("Authorization") == "Bearer at-0"
    assert request.header("Accept") == "application/json"


def test_graph_post_sends_json_body() -> None:
    client, transport, _, _ = make(lambda r: reply(201, {"id": "1"}))
    response = client.request("post", "/v1.0/me/events", body={"subject": "x"})
    assert (response.status, response.body) == (201, {"id": "1"})
    (request,) = transport.requests
    assert request.method == "POST"
    assert json.loads(request.body) == {"subject": "x"}
    assert request.header("Content-Type") == "application/json"


def test_graph_get_all_follows_next_link() -> None:
    pages = {
        f"{BASE}/v1.0/users": {"value": [1, 2], "@odata.nextLink": f"{BASE}/v1.0/users?p=2"},
        f"{BASE}/v1.0/users?p=2": {"value": [3], "@odata.nextLink": f"{BASE}/v1.0/users?p=3"},
        f"{BASE}/v1.0/users?p=3": {"value": []},
    }
    client, transport, _, _ = make(lambda r: reply(200, pages[r.url]))
    assert client.get_all("users") == [1, 2, 3]
    assert len(transport.requests) == 3


def test_graph_get_all_rejects_non_collection() -> None:
    client, *_ = make(lambda r: reply(200, {"id": "x"}))
    with pytest.raises(GraphError, match="not a collection"):
        client.get_all("me")


def test_graph_get_all_refuses_next_link_to_other_host() -> None:
    client, *_ = make(lambda r: reply(200, {"value": [], "@odata.nextLink": "https://x.test/a"}))
    with pytest.raises(GraphError, match="refusing"):
        client.get_all("users")


def test_graph_401_refreshes_once_then_succeeds() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        if request.header("Authorization") == "Bearer at-0":
            return reply(401, {"error": {"code": "InvalidAuthenticationToken"}})
        return reply(200, {"ok": True})

    client, transport, tokens, _ = make(handler)
    assert client.get("me") == {"ok": True}
    assert tokens.refreshes == 1
    assert len(transport.requests) == 2


def test_graph_second_401_raises_unauthorized() -> None:
    client, transport, tokens, _ = make(
        lambda r: reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": "bad"}})
    )
    with pytest.raises(GraphUnauthorizedError) as info:
        client.get("me")
    assert info.value.status == 401
    assert info.value.code == "InvalidAuthenticationToken"
    assert "bad" in str(info.value)
    assert tokens.refreshes == 1
    assert len(transport.requests) == 2


@pytest.mark.parametrize(
    ("header", "delay"),
    [
        ("7", 7.0),
        ("Thu, 01 Jan 1970 00:16:50 GMT", 10.0),  # 1010 s since the epoch; clock says 1000
        ("soon", 1.0),
        ("99999", 120.0),
    ],
)
def test_graph_throttling_honours_retry_after(header: str, delay: float) -> None:
    answers = [reply(429, headers={"Retry-After": header}), reply(200, {"ok": 1})]
    client, _, _, sleeps = make(lambda r: answers.pop(0))
    assert client.get("me") == {"ok": 1}
    assert sleeps == [delay]


def test_graph_503_without_retry_after_backs_off_then_gives_up() -> None:
    client, transport, _, sleeps = make(
        lambda r: reply(503, {"error": {"code": "serviceNotAvailable"}}), max_retries=3
    )
    with pytest.raises(GraphError, match="HTTP 503 serviceNotAvailable") as info:
        client.get("me")
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(transport.requests) == 4
    assert not isinstance(info.value, GraphUnauthorizedError)


def test_graph_403_hints_at_scopes() -> None:
    client, *_ = make(lambda r: reply(403, {"error": {"code": "Forbidden"}}))
    with pytest.raises(GraphError, match="lacks a scope this call needs") as info:
        client.get("me/presence")
    assert info.value.scope is None


def test_graph_403_names_the_scope_its_challenge_asks_for() -> None:
    challenge = 'Bearer realm="", error="insufficient_scope", scope="Presence.Read"'
    client, *_ = make(
        lambda r: reply(403, {"error": {"code": "Forbidden"}}, {"WWW-Authenticate": challenge})
    )
    with pytest.raises(GraphError, match="lacks the scope Presence.Read") as info:
        client.get("me/presence")
    assert info.value.scope == "Presence.Read"


def test_graph_non_json_error_and_empty_success() -> None:
    client, *_ = make(lambda r: HttpResponse(status=500, body=b"<html>oops"))
    with pytest.raises(GraphError, match="^Graph answered HTTP 500$"):
        client.get("me")
    client, *_ = make(lambda r: reply(204))
    assert client.get("me") is None


def test_graph_transport_errors_propagate() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        raise ConnectError("refused")

    client, *_ = make(handler)
    with pytest.raises(ConnectError):
        client.get("me")


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_graph_patch_and_delete(method: str) -> None:
    client, transport, _, _ = make(lambda r: reply(204))
    response = client.request(method, "me/presence", body={"a": 1} if method == "PATCH" else None)
    assert response.status == 204
    assert transport.requests[0].method == method
