"""Claims challenges (continuous access evaluation) at the emulated Graph, and the token
endpoint's ``claims`` parameter that answers them."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import pytest

from tests.support.app_harness import DEVICE_GRANT, Harness
from tests.support.testcontrol import control

pytestmark = pytest.mark.anyio

TENANT = "fabrikam"


async def me(harness: Harness, access_token: str) -> httpx.Response:
    return await harness.client().get(
        "/v1.0/me", headers={"Authorization": f"Bearer {access_token}"}
    )


def challenged_claims(response: httpx.Response) -> str:
    """The claims JSON of a 401's ``insufficient_claims`` challenge."""
    assert response.status_code == 401
    header = response.headers["www-authenticate"]
    assert 'error="insufficient_claims"' in header
    assert header.startswith('Bearer realm="", authorization_uri=')
    found = re.search(r'claims="([^"]+)"', header)
    assert found is not None
    return base64.b64decode(found.group(1)).decode()


async def refresh(
    harness: Harness, refresh_token: str, claims: str | None = None
) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "desk-lamp"}
    if claims is not None:
        form["claims"] = claims
    return await harness.client().post(f"/{TENANT}/oauth2/v2.0/token", data=form)


def access_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


async def test_a_demand_challenges_older_tokens_until_a_refresh_with_the_claims(
    harness: Harness,
) -> None:
    tokens = await harness.tokens(TENANT)
    answer = await control(harness, "demand-claims", {"username": "bob"})
    demanded = answer.json()["claims"]
    nbf = int(harness.clock()) + 1
    assert json.loads(demanded) == {"access_token": {"nbf": {"essential": True, "value": str(nbf)}}}
    challenged = await me(harness, tokens["access_token"])
    assert challenged_claims(challenged) == demanded
    assert challenged.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "TokenCreatedWithOutdatedPolicies" in challenged.json()["error"]["message"]
    # A refresh without the claims, in the same second, does not meet them ...
    plain = (await refresh(harness, tokens["refresh_token"])).json()
    assert (await me(harness, plain["access_token"])).status_code == 401
    # ... the refresh that carries them does.
    answered = await refresh(harness, plain["refresh_token"], demanded)
    assert answered.status_code == 200
    assert access_claims(answered.json()["access_token"])["nbf"] == nbf
    assert (await me(harness, answered.json()["access_token"])).status_code == 200


async def test_other_users_are_not_challenged(harness: Harness) -> None:
    tokens = await harness.tokens(TENANT)
    await control(harness, "demand-claims", {"username": "carol"})
    assert (await me(harness, tokens["access_token"])).status_code == 200


async def test_revoked_sessions_need_a_new_sign_in_with_the_claims(harness: Harness) -> None:
    tokens = await harness.tokens(TENANT)
    demanded = (await control(harness, "revoke-sessions", {"username": "bob"})).json()["claims"]
    challenged = await me(harness, tokens["access_token"])
    assert challenged_claims(challenged) == demanded
    assert "TokenIssuedBeforeRevocationTimestamp" in challenged.json()["error"]["message"]
    refused = (await refresh(harness, tokens["refresh_token"], demanded)).json()
    assert (refused["error"], refused["error_codes"]) == ("invalid_grant", [50173])
    # A new sign-in, polled with the claims, satisfies them.
    harness.clock.advance(0.25)
    started = await harness.authorize(TENANT)
    await control(harness, "approve", {"user_code": started["user_code"]})
    poll = await harness.client().post(
        f"/{TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": DEVICE_GRANT,
            "device_code": started["device_code"],
            "client_id": "desk-lamp",
            "claims": demanded,
        },
    )
    fresh = poll.json()
    assert (await me(harness, fresh["access_token"])).status_code == 200
    assert (await refresh(harness, fresh["refresh_token"])).status_code == 200


async def test_acrs_and_client_capabilities_are_carried_into_the_token(harness: Harness) -> None:
    tokens = await harness.tokens(TENANT)
    acrs = {"access_token": {"acrs": {"essential": True, "value": "c1"}}}
    demanded = await control(harness, "demand-claims", {"username": "bob", "claims": acrs})
    assert json.loads(demanded.json()["claims"]) == acrs
    assert (await me(harness, tokens["access_token"])).status_code == 401
    claims = {
        "access_token": {
            "acrs": {"essential": True, "values": ["c1", "c2"]},
            "xms_cc": {"values": ["cp1"]},
        }
    }
    answered = (await refresh(harness, tokens["refresh_token"], json.dumps(claims))).json()
    carried = access_claims(answered["access_token"])
    assert carried["acrs"] == ["c1", "c2"] and carried["xms_cc"] == ["cp1"]
    assert (await me(harness, answered["access_token"])).status_code == 200


async def test_a_demand_given_as_json_text_is_accepted(harness: Harness) -> None:
    text = '{"access_token":{"acrs":{"essential":true,"value":"c9"}}}'
    answer = await control(harness, "demand-claims", {"username": "bob", "claims": text})
    assert answer.json()["claims"] == text


@pytest.mark.parametrize("claims", ["not json", "[1]", '"text"'])
async def test_malformed_claims_are_invalid_request(harness: Harness, claims: str) -> None:
    tokens = await harness.tokens(TENANT)
    body = (await refresh(harness, tokens["refresh_token"], claims)).json()
    assert body["error"] == "invalid_request"
    assert "claims" in body["error_description"]


async def test_claims_without_access_token_rules_change_nothing(harness: Harness) -> None:
    tokens = await harness.tokens(TENANT)
    far = str(int(harness.clock()) + 3600)
    refresh_token = tokens["refresh_token"]
    for claims in ({"id_token": {"auth_time": None}}, {"access_token": {"nbf": {"value": far}}}):
        body = (await refresh(harness, refresh_token, json.dumps(claims))).json()
        refresh_token = body["refresh_token"]
        issued = access_claims(body["access_token"])
        assert issued["nbf"] == issued["iat"]  # an nbf an hour ahead is not honoured


async def test_a_second_demand_in_the_same_second_is_not_met_by_the_first_ones_token(
    harness: Harness,
) -> None:
    tokens = await harness.tokens(TENANT)
    first = (await control(harness, "demand-claims", {"username": "bob"})).json()["claims"]
    answered = (await refresh(harness, tokens["refresh_token"], first)).json()
    assert (await me(harness, answered["access_token"])).status_code == 200
    second = (await control(harness, "revoke-sessions", {"username": "bob"})).json()["claims"]
    assert json.loads(second)["access_token"]["nbf"]["value"] == str(int(harness.clock()) + 2)
    assert challenged_claims(await me(harness, answered["access_token"])) == second
