"""The test-control API itself: off by default, guarded by its token, deciding device codes."""

from __future__ import annotations

import dataclasses

import pytest

from deviceflow.server.settings import Settings
from tests.support.app_harness import Harness, harness_settings, running
from tests.support.testcontrol import TOKEN, control

pytestmark = pytest.mark.anyio


async def test_test_control_is_absent_without_the_setting(anyio_backend: str) -> None:
    async with running(harness_settings()) as server:
        client = server.client()
        answer = await client.post("/test-control/approve", json={"user_code": "BCDF-GHJK"})
        assert answer.status_code == 404
        assert (await client.get("/test-control")).status_code == 404
        assert server.app.state.test_control is None


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer wrong"}, id="wrong-token"),
        pytest.param({"Authorization": f"Basic {TOKEN}"}, id="wrong-scheme"),
    ],
)
async def test_requests_without_the_token_are_refused(
    harness: Harness, headers: dict[str, str]
) -> None:
    started = await harness.authorize()
    response = await harness.client().post(
        "/test-control/approve", json={"user_code": started["user_code"]}, headers=headers
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer ")
    poll = await harness.poll(started["device_code"])
    assert poll.json()["error"] == "authorization_pending"


async def test_a_token_is_made_when_none_is_configured(anyio_backend: str) -> None:
    settings = dataclasses.replace(harness_settings(), test_control=True)
    async with running(settings) as server:
        made = server.app.state.ctx.settings.test_control_token
        assert isinstance(made, str) and len(made) >= 40
        status = await server.client().get(
            "/test-control", headers={"Authorization": f"Bearer {made}"}
        )
        assert status.status_code == 200


async def test_approve_as_a_named_user_issues_their_tokens(harness: Harness) -> None:
    started = await harness.authorize("fabrikam")
    answer = await control(
        harness, "approve", {"user_code": started["user_code"].lower(), "username": "carol"}
    )
    assert answer.json() == {"status": "approved", "username": "carol"}
    poll = await harness.poll(started["device_code"], "fabrikam")
    assert poll.status_code == 200
    me = await harness.client().get(
        "/v1.0/me", headers={"Authorization": f"Bearer {poll.json()['access_token']}"}
    )
    assert me.json()["displayName"] == "Carol"


async def test_approve_without_a_username_picks_the_tenants_first_user(harness: Harness) -> None:
    started = await harness.authorize()
    answer = await control(harness, "approve", {"user_code": started["user_code"]})
    assert answer.json()["username"] == "alice"
    again = await control(harness, "approve", {"user_code": started["user_code"]})
    assert again.status_code == 409
    assert again.json()["error"] == "already_decided"


async def test_deny_makes_the_poll_access_denied(harness: Harness) -> None:
    started = await harness.authorize()
    assert (await control(harness, "deny", {"user_code": started["user_code"]})).status_code == 200
    assert (await harness.poll(started["device_code"])).json()["error"] == "access_denied"


async def test_expire_makes_the_poll_expired_token(harness: Harness) -> None:
    started = await harness.authorize("fabrikam")
    answer = await control(harness, "expire", {"user_code": started["user_code"]})
    assert answer.json() == {"status": "expired"}
    body = (await harness.poll(started["device_code"], "fabrikam")).json()
    assert body["error"] == "expired_token"
    assert body["error_codes"] == [70020]
    late = await control(harness, "approve", {"user_code": started["user_code"]})
    assert late.status_code == 409
    assert late.json()["error"] == "expired"


@pytest.mark.parametrize("action", ["approve", "deny", "expire"])
async def test_unknown_user_codes_are_404(harness: Harness, action: str) -> None:
    answer = await control(harness, action, {"user_code": "BCDF-GHJK"})
    assert answer.status_code == 404
    assert answer.json()["error"] == "unknown_user_code"


async def test_a_user_of_another_tenant_cannot_approve(harness: Harness) -> None:
    started = await harness.authorize()
    answer = await control(
        harness, "approve", {"user_code": started["user_code"], "username": "bob"}
    )
    assert answer.status_code == 404
    assert answer.json()["error"] == "unknown_user"


@pytest.mark.parametrize(
    ("action", "body", "complaint"),
    [
        pytest.param("approve", {}, "user_code", id="missing-code"),
        pytest.param("approve", {"user_code": 5}, "user_code", id="code-not-text"),
        pytest.param("fail-next", {}, "error, aadsts", id="nothing-to-fail"),
        pytest.param("fail-next", {"error": "Not An Error"}, "error", id="bad-error"),
        pytest.param("fail-next", {"error": "slow_down", "count": 0}, "count", id="zero-count"),
        pytest.param("fail-next", {"error": "x", "status": 200}, "status", id="status-2xx"),
        pytest.param("fail-next", {"aadsts": "50076"}, "aadsts", id="aadsts-text"),
        pytest.param("throttle-graph", {"count": True}, "count", id="bool-count"),
        pytest.param("presence", {"username": "alice"}, "availability", id="no-availability"),
        pytest.param(
            "demand-claims", {"username": "alice", "claims": "[1]"}, "claims", id="claims-array"
        ),
        pytest.param(
            "demand-claims", {"username": "alice", "claims": 7}, "claims", id="claims-number"
        ),
        pytest.param(
            "demand-claims", {"username": "alice", "claims": "{"}, "claims", id="claims-not-json"
        ),
    ],
)
async def test_malformed_requests_are_400(
    harness: Harness, action: str, body: dict[str, object], complaint: str
) -> None:
    answer = await control(harness, action, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert complaint in answer.json()["error_description"]


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json"])
async def test_a_body_that_is_not_a_json_object_is_400(harness: Harness, body: bytes) -> None:
    answer = await harness.client().post(
        "/test-control/reset",
        content=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["error_description"] == "The body must be a JSON object."


async def test_unknown_usernames_are_404(harness: Harness) -> None:
    answer = await control(harness, "revoke-sessions", {"username": "mallory"})
    assert answer.status_code == 404
    assert answer.json()["error"] == "unknown_user"


async def test_status_lists_what_is_queued_and_reset_forgets_it(harness: Harness) -> None:
    await control(harness, "fail-next", {"error": "slow_down", "count": 2, "client_id": "x"})
    await control(harness, "throttle-graph", {"count": 3, "retry_after": 7})
    headers = {"Authorization": f"Bearer {TOKEN}"}
    status = (await harness.client().get("/test-control", headers=headers)).json()
    assert status == {
        "token_failures": [
            {
                "error": "slow_down",
                "description": None,
                "status": 400,
                "aadsts": None,
                "retry_after": None,
                "client_id": "x",
                "count": 2,
            }
        ],
        "graph_throttled": 3,
        "graph_retry_after": 7,
    }
    assert (await control(harness, "reset")).json() == {"status": "reset"}
    status = (await harness.client().get("/test-control", headers=headers)).json()
    assert status["token_failures"] == [] and status["graph_throttled"] == 0


def test_the_development_setup_has_test_control_on() -> None:
    assert Settings.development().test_control is True
    assert Settings.from_mapping({"tenants": [{"id": "t"}]}).test_control is False


async def test_a_tenant_without_users_cannot_approve(harness: Harness) -> None:
    started = await harness.authorize("lonely")
    answer = await control(harness, "approve", {"user_code": started["user_code"]})
    assert answer.status_code == 404
    assert answer.json()["error_description"] == "The code's tenant has no user."


async def test_an_empty_body_is_an_empty_object(harness: Harness) -> None:
    answer = await harness.client().post(
        "/test-control/reset", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.json() == {"status": "reset"}
