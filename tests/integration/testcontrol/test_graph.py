"""Graph under test control (throttling, presence set by a test) and Graph's presence API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.app_harness import Harness
from tests.support.testcontrol import control

pytestmark = pytest.mark.anyio

TENANT = "fabrikam"
BOB_SCOPES = "openid profile offline_access User.Read Presence.Read"


async def bearer(harness: Harness, scope: str = BOB_SCOPES) -> dict[str, str]:
    tokens = await harness.tokens(TENANT, scope=scope)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def user_id(harness: Harness, username: str) -> str:
    settings = harness.app.state.ctx.settings
    return str(next(u.id for u in settings.users if u.username == username))


async def call(
    harness: Harness, method: str, path: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    return await harness.client().request(method, path, headers=headers, json=body)


async def test_throttled_graph_answers_429_with_retry_after_then_recovers(
    harness: Harness,
) -> None:
    headers = await bearer(harness)
    await control(harness, "throttle-graph", {"count": 2, "retry_after": 3})
    for path in ("/v1.0/me", "/v1.0/me/presence"):
        throttled = await call(harness, "GET", path, headers)
        assert throttled.status_code == 429
        assert throttled.headers["retry-after"] == "3"
        assert throttled.json()["error"]["code"] == "TooManyRequests"
        assert "request-id" in throttled.headers
    assert (await call(harness, "GET", "/v1.0/me", headers)).status_code == 200


async def test_presence_set_by_test_control_is_what_graph_reports(harness: Harness) -> None:
    headers = await bearer(harness)
    answer = await control(
        harness, "presence", {"username": "bob", "availability": "Busy", "activity": "InACall"}
    )
    assert answer.json() == {"availability": "Busy", "activity": "InACall"}
    body = (await call(harness, "GET", "/v1.0/me/presence", headers)).json()
    bob = user_id(harness, "bob")
    assert body == {
        "@odata.context": f"http://testserver/v1.0/$metadata#users('{bob}')/presence/$entity",
        "id": bob,
        "availability": "Busy",
        "activity": "InACall",
    }


async def test_test_control_refuses_an_unknown_availability(harness: Harness) -> None:
    answer = await control(
        harness, "presence", {"username": "bob", "availability": "Sleepy", "activity": "Away"}
    )
    assert answer.status_code == 400
    assert "availability" in answer.json()["error_description"]


async def test_set_presence_then_clear_presence(harness: Harness) -> None:
    headers = await bearer(harness, BOB_SCOPES + " Presence.ReadWrite")
    session = {"sessionId": "desk-lamp"}
    bob = user_id(harness, "bob")
    for path, duration in (
        ("/v1.0/me/presence/setPresence", "PT1H"),
        (f"/beta/users/{bob}/presence/setPresence", None),  # Graph's default: 5 minutes
    ):
        body = {**session, "availability": "DoNotDisturb", "activity": "Presenting",
                "expirationDuration": duration}  # fmt: skip
        answer = await call(harness, "POST", path, headers, body)
        assert answer.status_code == 200 and answer.content == b""
        assert "request-id" in answer.headers
    presence = (await call(harness, "GET", "/v1.0/me/presence", headers)).json()
    assert (presence["availability"], presence["activity"]) == ("DoNotDisturb", "Presenting")
    cleared = await call(harness, "POST", "/v1.0/me/presence/clearPresence", headers, session)
    assert cleared.status_code == 200
    presence = (await call(harness, "GET", "/v1.0/me/presence", headers)).json()
    assert (presence["availability"], presence["activity"]) == ("Offline", "Offline")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"availability": "Available", "activity": "Available"}, "sessionId",
                     id="no-session"),
        pytest.param({"sessionId": "x", "availability": "Busy", "activity": "Away"},
                     "Unsupported", id="pair-not-settable"),
        pytest.param({"sessionId": "x", "availability": "Away", "activity": "Away",
                      "expirationDuration": "PT1M"}, "PT5M", id="too-short"),
        pytest.param({"sessionId": "x", "availability": "Away", "activity": "Away",
                      "expirationDuration": "1 hour"}, "ISO 8601", id="not-a-duration"),
    ],
)  # fmt: skip
async def test_set_presence_refuses_bad_bodies(
    harness: Harness, body: dict[str, Any], message: str
) -> None:
    headers = await bearer(harness, BOB_SCOPES + " Presence.ReadWrite")
    answer = await call(harness, "POST", "/v1.0/me/presence/setPresence", headers, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadRequest"
    assert message in answer.json()["error"]["message"]


async def test_a_body_that_is_not_json_is_bad_request(harness: Harness) -> None:
    headers = await bearer(harness, BOB_SCOPES + " Presence.ReadWrite")
    answer = await harness.client().post(
        "/v1.0/me/presence/setPresence", headers=headers, content=b"availability=Away"
    )
    assert answer.status_code == 400


async def test_writing_presence_needs_presence_read_write(harness: Harness) -> None:
    headers = await bearer(harness)
    answer = await call(
        harness, "POST", "/v1.0/me/presence/clearPresence", headers, {"sessionId": "x"}
    )
    assert answer.status_code == 403
    assert 'scope="Presence.ReadWrite"' in answer.headers["www-authenticate"]


async def test_another_users_presence_needs_the_all_scopes(harness: Harness) -> None:
    headers = await bearer(harness)
    carol = user_id(harness, "carol")
    refused = await call(harness, "GET", f"/v1.0/users/{carol}/presence", headers)
    assert refused.status_code == 403
    headers = await bearer(harness, BOB_SCOPES + " Presence.Read.All")
    allowed = await call(harness, "GET", f"/v1.0/users/{carol}/presence", headers)
    assert allowed.json()["id"] == carol
    write = await call(
        harness, "POST", f"/v1.0/users/{carol}/presence/clearPresence", headers, {"sessionId": "x"}
    )
    assert write.status_code == 403
    missing = await call(harness, "GET", "/v1.0/users/nobody@nowhere/presence", headers)
    assert missing.status_code == 404


async def test_get_presences_by_user_id(harness: Harness) -> None:
    headers = await bearer(harness, BOB_SCOPES + " Presence.Read.All")
    bob, carol, alice = (user_id(harness, name) for name in ("bob", "carol", "alice"))
    await control(
        harness, "presence", {"username": "carol", "availability": "Away", "activity": "Away"}
    )
    body = {"ids": [carol, bob, alice, carol, "unknown"]}
    answer = await call(harness, "POST", "/v1.0/communications/getPresencesByUserId", headers, body)
    assert answer.json() == {
        "@odata.context": "http://testserver/v1.0/$metadata#Collection(microsoft.graph.presence)",
        "value": [
            {"id": carol, "availability": "Away", "activity": "Away"},
            {"id": bob, "availability": "Available", "activity": "Available"},
        ],  # alice is of another tenant; unknown ids are left out
    }


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"ids": "abc"}, id="not-a-list"),
        pytest.param({"ids": ["a"] * 651}, id="too-many"),
    ],
)
async def test_get_presences_by_user_id_refuses_bad_bodies(
    harness: Harness, body: dict[str, Any]
) -> None:
    headers = await bearer(harness, BOB_SCOPES + " Presence.Read.All")
    answer = await call(harness, "POST", "/v1.0/communications/getPresencesByUserId", headers, body)
    assert answer.status_code == 400
