"""Queued token failures: what the token endpoint answers instead, and to whom."""

from __future__ import annotations

import pytest

from deviceflow.server.endpoints._http import MAX_FORM_BYTES
from deviceflow.server.testcontrol import Faults, TokenFault
from deviceflow.server.testcontrol._faults import FaultyTokenEndpoint
from tests.support.app_harness import DEVICE_GRANT, Harness
from tests.support.testcontrol import control

pytestmark = pytest.mark.anyio


async def approved(harness: Harness, tenant: str = "fabrikam") -> dict[str, str]:
    started = await harness.authorize(tenant)
    await control(harness, "approve", {"user_code": started["user_code"]})
    return started


async def test_pending_is_answered_even_after_approval_then_the_tokens(harness: Harness) -> None:
    started = await approved(harness)
    await control(harness, "fail-next", {"error": "authorization_pending", "count": 2})
    for _ in range(2):
        body = (await harness.poll(started["device_code"], "fabrikam")).json()
        assert body["error"] == "authorization_pending"
        assert body["error_codes"] == [70016]  # spelled as the engine's own pending answer
    assert (await harness.poll(started["device_code"], "fabrikam")).status_code == 200


@pytest.mark.parametrize(
    ("aadsts", "error"),
    [
        pytest.param(50076, "invalid_grant", id="mfa"),
        pytest.param(65001, "invalid_grant", id="consent"),
        pytest.param(53003, "invalid_grant", id="conditional-access"),
        pytest.param(700082, "invalid_grant", id="idle-refresh-token"),
    ],
)
async def test_an_aadsts_number_gets_entras_error_and_message(
    harness: Harness, aadsts: int, error: str
) -> None:
    started = await approved(harness)
    await control(harness, "fail-next", {"aadsts": aadsts})
    response = await harness.poll(started["device_code"], "fabrikam")
    body = response.json()
    assert response.status_code == 400
    assert (body["error"], body["error_codes"]) == (error, [aadsts])
    assert body["error_description"].startswith(f"AADSTS{aadsts}: ")
    assert "Trace ID: " in body["error_description"]


async def test_consent_message_names_the_client(harness: Harness) -> None:
    started = await approved(harness)
    await control(harness, "fail-next", {"aadsts": 65001})
    body = (await harness.poll(started["device_code"], "fabrikam")).json()
    assert "'desk-lamp'" in body["error_description"]


async def test_an_unknown_aadsts_number_carries_the_given_error_and_text(harness: Harness) -> None:
    started = await approved(harness)
    await control(
        harness,
        "fail-next",
        {"aadsts": 50126, "error": "invalid_grant", "description": "Wrong password."},
    )
    body = (await harness.poll(started["device_code"], "fabrikam")).json()
    assert body["error"] == "invalid_grant"
    assert body["error_description"].startswith("AADSTS50126: Wrong password.")


async def test_the_rfc_dialect_ignores_aadsts_numbers(harness: Harness) -> None:
    started = await approved(harness, "contoso")
    await control(harness, "fail-next", {"aadsts": 50076, "description": "step up"})
    body = (await harness.poll(started["device_code"])).json()
    assert body == {"error": "invalid_grant", "error_description": "step up"}


async def test_slow_down_is_sent_to_a_tenant_that_never_sends_it(harness: Harness) -> None:
    started = await approved(harness)
    await control(harness, "fail-next", {"error": "slow_down"})
    body = (await harness.poll(started["device_code"], "fabrikam")).json()
    assert body["error"] == "slow_down"


@pytest.mark.parametrize(
    ("body", "status", "retry_after"),
    [
        pytest.param({"error": "temporarily_unavailable", "status": 429, "retry_after": 7}, 429,
                     "7", id="429"),
        pytest.param({"error": "server_error", "status": 503}, 503, None, id="503"),
    ],
)  # fmt: skip
async def test_status_and_retry_after_are_as_queued(
    harness: Harness, body: dict[str, object], status: int, retry_after: str | None
) -> None:
    started = await approved(harness)
    await control(harness, "fail-next", body)
    response = await harness.poll(started["device_code"], "fabrikam")
    assert response.status_code == status
    assert response.headers.get("retry-after") == retry_after
    assert response.json()["error"] == body["error"]


async def test_a_failure_for_one_client_leaves_the_others_alone(harness: Harness) -> None:
    mine = await approved(harness)
    await control(harness, "fail-next", {"error": "authorization_pending", "client_id": "other"})
    assert (await harness.poll(mine["device_code"], "fabrikam")).status_code == 200
    theirs = await harness.authorize("fabrikam", client_id="other-lamp")
    await control(harness, "approve", {"user_code": theirs["user_code"]})
    await control(
        harness, "fail-next", {"error": "authorization_pending", "client_id": "other-lamp"}
    )
    poll = await harness.poll(theirs["device_code"], "fabrikam", client_id="other-lamp")
    assert poll.json()["error"] == "authorization_pending"


async def test_refresh_requests_get_queued_failures_too(harness: Harness) -> None:
    tokens = await harness.tokens("fabrikam")
    await control(harness, "fail-next", {"aadsts": 700082})
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": "desk-lamp",
    }
    refused = await harness.client().post("/fabrikam/oauth2/v2.0/token", data=form)
    assert refused.json()["error_codes"] == [700082]
    assert (await harness.client().post("/fabrikam/oauth2/v2.0/token", data=form)).is_success


async def test_unknown_tenants_and_malformed_forms_reach_the_endpoint(harness: Harness) -> None:
    await control(harness, "fail-next", {"error": "slow_down"})
    client = harness.client()
    unknown = await client.post(
        "/nowhere/oauth2/v2.0/token", data={"grant_type": DEVICE_GRANT, "client_id": "desk-lamp"}
    )
    assert unknown.json()["error"] == "invalid_request"  # the endpoint's own answer
    malformed = await client.post(
        "/fabrikam/oauth2/v2.0/token",
        content=b"client_id=a&client_id=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert malformed.json()["error"] == "slow_down"  # no client: a failure for anyone


async def test_the_v1_token_endpoint_and_the_routed_path_are_wrapped(harness: Harness) -> None:
    started = await approved(harness)
    await control(harness, "fail-next", {"error": "authorization_pending", "count": 2})
    form = {"grant_type": "device_code", "code": started["device_code"], "client_id": "desk-lamp"}
    v1 = await harness.client().post("/fabrikam/oauth2/token", data=form)
    assert v1.json()["error"] == "authorization_pending"
    routed = await harness.client().post("/fabrikam/oauth2/token?api-version=1.0", data=form)
    assert routed.json()["error"] == "authorization_pending"


async def test_an_oversized_body_is_refused_and_the_failure_kept(harness: Harness) -> None:
    await control(harness, "fail-next", {"error": "slow_down"})
    huge = await harness.client().post(
        "/fabrikam/oauth2/v2.0/token",
        content=b"a=" + b"x" * (MAX_FORM_BYTES + 10),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 400
    assert huge.json()["error"] == "invalid_request"
    assert harness.app.state.test_control.armed is True


def test_token_endpoints_are_wrapped_only_with_test_control(harness: Harness) -> None:
    wrapped = [r for r in harness.app.routes if getattr(r, "name", "") in ("token", "token_v1")]
    assert len(wrapped) == 2
    assert all(isinstance(r.endpoint, FaultyTokenEndpoint) for r in wrapped)  # type: ignore[attr-defined]


def test_faults_are_used_up_in_order_per_client() -> None:
    faults = Faults()
    assert faults.armed is False and faults.take_token("a") is None
    first, second = TokenFault("slow_down", client_id="a"), TokenFault("server_error")
    faults.fail_next(first, 2)
    faults.fail_next(second)
    assert faults.armed is True
    assert faults.take_token("b") is second
    assert faults.take_token("b") is None
    assert faults.take_token("a") is first
    assert faults.armed is True
    assert faults.take_token("a") is first
    assert faults.armed is False


def test_graph_throttling_is_used_up() -> None:
    faults = Faults()
    assert faults.take_graph() is None
    faults.throttle_graph(2, 5)
    assert [faults.take_graph(), faults.take_graph(), faults.take_graph()] == [5, 5, None]
