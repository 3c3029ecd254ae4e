"""Golden shapes of every Microsoft response and error body (microsoft-identity reference).

Each test drives the real app in process (``tests.support.app_harness``) and compares the
body with the reference: member names, Entra's key order, JSON types (integers on v2.0, strings
on v1) and AADSTS numbers. Values that are random (codes, tokens, ids) are checked by type.
"""

from __future__ import annotations

import base64
import calendar
import json
import re
import time
from typing import Any

import pytest

from deviceflow.server.dialects.base import Wire
from deviceflow.server.dialects.microsoft import MicrosoftDialect
from deviceflow.server.security import hash_password
from deviceflow.server.settings import Settings
from tests.support.app_harness import BOB, CLIENT_ID, CONFIG, DEVICE_GRANT, Harness, running

pytestmark = pytest.mark.anyio

V2 = "/fabrikam/oauth2/v2.0"
V1 = "/fabrikam/oauth2"
ERROR_KEYS = [
    "error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id",
    "error_uri",
]  # fmt: skip
_DESCRIPTION = re.compile(
    r"^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: \S+\r\n"
    r"Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"
)


_SECRET_HASH = hash_password("a-confidential-secret")


@pytest.fixture
async def ms(server_settings: Settings, anyio_backend: str) -> Any:
    async with running(server_settings) as harness:
        yield harness


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def assert_error(
    body: dict[str, Any], error: str, code: int, *, correlation: str | None = None
) -> None:
    assert list(body) == ERROR_KEYS
    assert body["error"] == error
    assert body["error_codes"] == [code]
    match = _DESCRIPTION.match(body["error_description"])
    assert match and int(match.group(1)) == code, body["error_description"]
    assert body["error_uri"] == f"http://testserver/error?code={code}"
    assert body["timestamp"] in body["error_description"]
    assert body["trace_id"] in body["error_description"]
    if correlation:
        assert body["correlation_id"] == correlation


async def _start(ms: Harness, path: str = V2, **form: str) -> dict[str, Any]:
    data = {"client_id": CLIENT_ID, "scope": "openid profile offline_access User.Read", **form}
    response = await ms.client().post(f"{path}/devicecode", data=data)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _poll(ms: Harness, device_code: str, path: str = V2, **extra: str) -> Any:
    data = {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": CLIENT_ID}
    return await ms.client().post(f"{path}/token", data={**data, **extra})


async def test_v2_device_authorization_body(ms: Harness) -> None:
    body = await _start(ms)
    assert list(body) == [
        "user_code", "device_code", "verification_uri", "expires_in", "interval", "message",
    ]  # fmt: skip
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{9}", body["user_code"])
    assert (body["expires_in"], body["interval"]) == (900, 5)
    assert body["message"] == (
        "To sign in, use a web browser to open the page http://testserver/devicelogin and enter"
        f" the code {body['user_code']} to authenticate."
    )


async def test_v1_device_authorization_body_with_and_without_api_version(ms: Harness) -> None:
    for path in (V1, V1 + "/devicecode?api-version=1.0"):
        url = path if path.endswith("1.0") else f"{path}/devicecode"
        response = await ms.client().post(
            url, data={"client_id": CLIENT_ID, "resource": "https://graph.microsoft.com"}
        )
        body = response.json()
        assert list(body) == [
            "user_code", "device_code", "verification_url", "expires_in", "interval", "message",
        ]  # fmt: skip
        assert (body["expires_in"], body["interval"]) == ("900", "5")


async def test_v2_token_body_and_id_token(ms: Harness) -> None:
    started = await _start(ms)
    await ms.decide(started["user_code"], credentials=BOB)
    code = started["device_code"]
    response = await _poll(ms, code, code=code, client_info="1")
    body = response.json()
    assert list(body) == [
        "token_type", "scope", "expires_in", "ext_expires_in", "access_token", "refresh_token",
        "id_token", "client_info",
    ]  # fmt: skip
    assert body["scope"] == "openid profile User.Read"
    assert isinstance(body["expires_in"], int) and body["ext_expires_in"] >= body["expires_in"]
    info = json.loads(base64.urlsafe_b64decode(body["client_info"] + "=="))
    id_token = _claims(body["id_token"])
    assert info == {"uid": id_token["oid"], "utid": id_token["tid"]}
    assert id_token["aud"] == CLIENT_ID and id_token["ver"] == "2.0"
    assert id_token["iss"] == f"http://testserver/{id_token['tid']}/v2.0"
    assert {"name", "preferred_username", "sub", "iat", "nbf", "exp"} <= set(id_token)
    assert "nonce" not in id_token and "at_hash" not in id_token
    again = await _poll(ms, code)
    assert again.status_code == 400
    assert_error(again.json(), "invalid_grant", 54005)


async def test_v1_token_body_strings_resource_and_unsigned_id_token(ms: Harness) -> None:
    response = await ms.client().post(
        f"{V1}/devicecode", data={"client_id": CLIENT_ID, "resource": "https://graph.microsoft.com"}
    )
    started = response.json()
    await ms.decide(started["user_code"], credentials=BOB)
    polled = await ms.client().post(
        f"{V1}/token",
        data={"grant_type": "device_code", "code": started["device_code"], "client_id": CLIENT_ID},
    )
    body = polled.json()
    assert list(body) == [
        "token_type", "scope", "expires_in", "ext_expires_in", "expires_on", "not_before",
        "resource", "access_token", "refresh_token", "id_token",
    ]  # fmt: skip
    for name in ("expires_in", "ext_expires_in", "expires_on", "not_before"):
        assert isinstance(body[name], str) and body[name].isdigit()
    assert int(body["expires_on"]) - int(body["not_before"]) == int(body["expires_in"])
    assert body["resource"] == "https://graph.microsoft.com"
    assert set(body["scope"].split()) >= {"User.Read", "Presence.Read"}  # the client's Graph set
    header = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[0] + "=="))
    assert header == {"typ": "JWT", "alg": "none"} and body["id_token"].endswith(".")
    claims = _claims(body["id_token"])
    assert claims["iss"] == f"https://sts.windows.net/{claims['tid']}/"
    assert claims["ver"] == "1.0" and claims["upn"] == claims["unique_name"]
    refreshed = await ms.client().post(
        f"{V1}/token",
        data={
            "grant_type": "refresh_token", "refresh_token": body["refresh_token"],
            "client_id": CLIENT_ID, "resource": "https://graph.microsoft.com",
        },
    )  # fmt: skip
    assert refreshed.status_code == 200 and refreshed.json()["resource"]


@pytest.mark.parametrize(
    ("setup", "error", "code"),
    [
        pytest.param("pending", "authorization_pending", 70016, id="pending"),
        pytest.param("denied", "authorization_declined", 65004, id="declined"),
        pytest.param("unknown", "bad_verification_code", 70000, id="bad-code"),
        pytest.param("expired", "expired_token", 70020, id="expired"),
    ],
)
async def test_v2_polling_errors(ms: Harness, setup: str, error: str, code: int) -> None:
    started = await _start(ms)
    device_code = started["device_code"]
    if setup == "denied":
        await ms.decide(started["user_code"], "deny", credentials=BOB)
    elif setup == "unknown":
        device_code = "not-a-code"
    elif setup == "expired":
        ms.clock.advance(901)
    response = await ms.client().post(
        f"{V2}/token",
        data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": CLIENT_ID},
        headers={"client-request-id": "5d5c0e1a-0000-4000-8000-000000000001"},
    )
    assert response.status_code == 400
    assert "retry-after" not in response.headers
    assert_error(response.json(), error, code, correlation="5d5c0e1a-0000-4000-8000-000000000001")


@pytest.mark.parametrize(
    ("path", "correlation"),
    [
        pytest.param(V2, None, id="v2-trace-as-correlation"),
        pytest.param(V2, 'a"quoted\\id \xe9', id="v2-escaped-correlation"),
        pytest.param(V1, "5d5c0e1a-0000-4000-8000-000000000001", id="v1"),
    ],
)
async def test_pending_body_is_the_dialects_body_byte_for_byte(
    ms: Harness, path: str, correlation: str | None
) -> None:
    """The pending answer is encoded once per shape and filled in per request: the bytes are
    what ``error_body`` gives for the same ids and time, encoded as ``send_json`` does."""
    started = await _start(ms)
    headers = {"client-request-id": correlation.encode("latin-1")} if correlation else {}
    form = {
        "grant_type": DEVICE_GRANT,
        "device_code": started["device_code"],
        "client_id": CLIENT_ID,
    }
    seen = set()
    for _ in range(3):  # the first builds the shape, the others reuse it
        response = await ms.client().post(f"{path}/token", data=form, headers=headers)
        body = response.json()
        assert body["trace_id"] not in seen  # a fresh trace id per answer
        seen.add(body["trace_id"])
        now = calendar.timegm(time.strptime(body["timestamp"], "%Y-%m-%d %H:%M:%SZ"))
        wire = Wire(
            base_url="http://testserver",
            now=now,
            trace_id=body["trace_id"],
            correlation_id=correlation or body["trace_id"],
            version="v1" if path == V1 else "v2",
            tenant="fabrikam",
            client_id=CLIENT_ID,
        )
        expected = MicrosoftDialect().error_body(
            "authorization_pending", "the user has not yet finished", reason="pending", wire=wire
        )
        assert response.content == json.dumps(expected, separators=(",", ":")).encode()
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert response.headers["cache-control"] == "no-store"
        ms.clock.advance(1.5)


async def test_v1_expired_code_is_code_expired(ms: Harness) -> None:
    started = await _start(ms)
    ms.clock.advance(901)
    response = await ms.client().post(
        f"{V1}/token",
        data={"grant_type": "device_code", "code": started["device_code"], "client_id": CLIENT_ID},
    )
    assert_error(response.json(), "code_expired", 70020)


async def test_client_errors(server_settings: Settings, anyio_backend: str) -> None:
    config = {
        **CONFIG,
        "clients": [
            *CONFIG["clients"],
            {"client_id": "confidential", "public": False, "secret_hash": _SECRET_HASH},
        ],
    }
    async with running(Settings.from_mapping(config)) as ms:
        client = ms.client()
        private = await client.post(f"{V2}/devicecode", data={"client_id": "confidential"})
        assert_error(private.json(), "invalid_client", 7000218)
        secret = await client.post(
            f"{V2}/devicecode",
            data={"client_id": CLIENT_ID, "client_secret": "s", "scope": "openid"},
        )
        assert_error(secret.json(), "invalid_client", 700025)
        unknown = await client.post(f"{V2}/devicecode", data={"client_id": "nobody"})
        assert_error(unknown.json(), "unauthorized_client", 700016)
        assert "'nobody'" in unknown.json()["error_description"]
        disabled = await client.post(f"{V2}/devicecode", data={"client_id": "no-device"})
        assert_error(disabled.json(), "unauthorized_client", 7000112)
        scope = await client.post(
            f"{V2}/devicecode", data={"client_id": CLIENT_ID, "scope": "Mail.Send"}
        )
        assert_error(scope.json(), "invalid_scope", 70011)
        grant = await client.post(f"{V2}/token", data={"grant_type": "password", "client_id": "x"})
        assert_error(grant.json(), "unsupported_grant_type", 70003)
        missing = await client.post(f"{V2}/token", data={"client_id": CLIENT_ID})
        assert_error(missing.json(), "invalid_request", 900144)
        tenant = await client.post("/nowhere/oauth2/v2.0/token", data={})
        assert_error(tenant.json(), "invalid_request", 90002)
        refresh = await client.post(
            f"{V2}/token",
            data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": CLIENT_ID},
        )
        assert_error(refresh.json(), "invalid_grant", 9002313)
        page = await client.get("/error", params={"code": "70016"})
        assert page.json()["error"] == "authorization_pending"
        assert (await client.get("/error", params={"code": "1"})).status_code == 404


async def test_v2_discovery_common_has_tenantid_placeholder(ms: Harness) -> None:
    tenant_id = "fabrikam.example"
    for segment, issuer in (("common", "http://testserver/{tenantid}/v2.0"), (tenant_id, None)):
        settings_has = segment != "common"
        response = await ms.client().get(f"/{segment}/v2.0/.well-known/openid-configuration")
        if not settings_has:
            assert response.status_code == 404  # the harness has no "common" alias
            continue
        doc = response.json()
        assert doc["issuer"].endswith("/v2.0") and "{tenantid}" not in doc["issuer"]
        assert doc["token_endpoint"] == f"http://testserver/{segment}/oauth2/v2.0/token"
        assert list(doc)[:3] == [
            "token_endpoint",
            "token_endpoint_auth_methods_supported",
            "jwks_uri",
        ]
        assert doc["request_uri_parameter_supported"] is False
        assert issuer is None


async def test_common_alias_discovery_and_v1_documents(anyio_backend: str) -> None:
    config = {**CONFIG, "tenants": [dict(CONFIG["tenants"][1], aliases=["common"])]}
    config["users"] = [u for u in CONFIG["users"] if u.get("tenant") == "fabrikam"]
    async with running(Settings.from_mapping(config)) as ms:
        client = ms.client()
        doc = (await client.get("/common/v2.0/.well-known/openid-configuration")).json()
        assert doc["issuer"] == "http://testserver/{tenantid}/v2.0"
        v1 = (await client.get("/common/.well-known/openid-configuration")).json()
        assert v1["issuer"] == "https://sts.windows.net/{tenantid}/"
        assert v1["microsoft_multi_refresh_token"] is True
        assert v1["jwks_uri"] == "http://testserver/common/discovery/keys"
        own = (await client.get("/fabrikam/.well-known/openid-configuration")).json()
        assert own["issuer"].startswith("https://sts.windows.net/") and "{" not in own["issuer"]
        keys = (await client.get("/common/discovery/keys")).json()
        assert keys == (await client.get("/fabrikam/discovery/v2.0/keys")).json()
        assert (await client.get("/nowhere/discovery/keys")).status_code == 404
        assert (await client.get("/nowhere/.well-known/openid-configuration")).status_code == 404
        instance = await client.get(
            "/common/discovery/instance",
            params={
                "api-version": "1.1",
                "authorization_endpoint": "http://testserver/fabrikam/oauth2/v2.0/authorize",
            },
        )
        assert instance.json() == {
            "tenant_discovery_endpoint": (
                "http://testserver/fabrikam/v2.0/.well-known/openid-configuration"
            ),
            "api-version": "1.1",
            "metadata": [
                {"preferred_network": "testserver", "preferred_cache": "testserver",
                 "aliases": ["testserver"]},
            ],
        }  # fmt: skip
        bad = await client.get(
            "/common/discovery/instance",
            params={"authorization_endpoint": "http://testserver/nowhere/oauth2/authorize"},
        )
        assert bad.status_code == 400
