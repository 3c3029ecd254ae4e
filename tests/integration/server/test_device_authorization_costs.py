"""What one device authorization request may cost the server (issue 12).

Every granted request stores a grant row, so an unthrottled ``/devicecode`` lets anyone grow the
database at will: past a limit per address and per client the endpoint answers 429 with
``Retry-After``, in the tenant's dialect, and stores nothing. What it stores from the request
itself (the device's User-Agent and address) is clipped to a bound.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from deviceflow.server.grant._bounds import USER_AGENT_CHARS
from deviceflow.server.settings import RateLimits, Settings
from deviceflow.server.storage.sqlite import SQLiteStorage
from tests.support.app_harness import CLIENT_ID, Harness, running

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
FORM = {"client_id": CLIENT_ID, "scope": "openid offline_access"}


def limited(settings: Settings, **limits: int) -> Settings:
    return dataclasses.replace(settings, rate_limits=RateLimits(**limits))


async def devicecode(server: Harness, ip: str, tenant: str = "contoso") -> httpx.Response:
    return await server.client(ip).post(f"/{tenant}/oauth2/v2.0/devicecode", data=FORM)


def assert_throttled(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert "device_code" not in body and "user_code" not in body
    return body


async def test_device_authorization_past_the_default_per_address_limit_is_429(
    server: Harness,
) -> None:
    limit = RateLimits().device_authorizations_per_ip
    for _ in range(limit):
        assert (await devicecode(server, "198.51.100.7")).status_code == 200
    body = assert_throttled(await devicecode(server, "198.51.100.7"))
    assert body["error"] == "rate_limited"
    # Another address (another NAT) is not affected.
    assert (await devicecode(server, "198.51.100.8")).status_code == 200


async def test_device_authorization_per_client_limit_spans_addresses(
    server_settings: Settings, anyio_backend: str
) -> None:
    settings = limited(server_settings, device_authorizations_per_client=4)
    async with running(settings) as server:
        for n in range(4):
            assert (await devicecode(server, f"203.0.113.{n}")).status_code == 200
        assert_throttled(await devicecode(server, "203.0.113.99"))
        # Once the window has passed, the client may start flows again.
        server.clock.advance(RateLimits().device_authorization_window)
        assert (await devicecode(server, "203.0.113.99")).status_code == 200


async def test_device_authorization_refused_requests_do_not_count(
    server_settings: Settings, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = limited(
        server_settings, device_authorizations_per_ip=2, device_authorizations_per_client=3
    )
    async with running(settings) as server:
        with caplog.at_level("INFO", logger="deviceflow.audit"):
            for _ in range(2):
                assert (await devicecode(server, "192.0.2.1")).status_code == 200
            for _ in range(5):  # refused by the address's limit: not counted for the client
                assert_throttled(await devicecode(server, "192.0.2.1"))
            assert (await devicecode(server, "192.0.2.2")).status_code == 200
            assert_throttled(await devicecode(server, "192.0.2.3"))
    reached = [
        (r.audit["limit"], r.audit["ip"])
        for r in caplog.records
        if getattr(r, "audit", {}).get("event") == "device_authorization_limit"
    ]
    assert reached == [("devicecode_ip", "192.0.2.1"), ("devicecode_client", "192.0.2.2")]


async def test_device_authorization_throttled_in_the_microsoft_dialect(
    server_settings: Settings, anyio_backend: str
) -> None:
    settings = limited(server_settings, device_authorizations_per_ip=1)
    async with running(settings) as server:
        assert (await devicecode(server, "192.0.2.9", "fabrikam")).status_code == 200
        body = assert_throttled(await devicecode(server, "192.0.2.9", "fabrikam"))
        assert body["error"] == "temporarily_unavailable"
        assert body["error_codes"] == [90055]
        assert body["error_description"].startswith("AADSTS90055: ")


def test_device_authorization_limits_come_from_rate_limits_table(
    server_settings: Settings,
) -> None:
    from tests.support.app_harness import CONFIG

    configured = Settings.from_mapping(
        {
            **CONFIG,
            "users": [],
            "rate_limits": {
                "device_authorizations_per_ip": 7,
                "device_authorizations_per_client": 70,
                "device_authorization_window": 30,
            },
        }
    )
    assert configured.rate_limits.device_authorizations_per_ip == 7
    assert configured.rate_limits.device_authorizations_per_client == 70
    assert configured.rate_limits.device_authorization_window == 30


async def test_device_authorization_with_a_1_mib_user_agent_stores_and_shows_a_bounded_one(
    server_settings: Settings, anyio_backend: str, tmp_path: Path
) -> None:
    db = tmp_path / "server.sqlite3"
    storage = SQLiteStorage(db)
    huge = "TV/1.0 " + "x" * MIB
    try:
        async with running(server_settings, storage=storage) as server:
            device = server.client("192.0.2.40")
            for _ in range(3):
                response = await device.post(
                    "/contoso/oauth2/v2.0/devicecode", data=FORM, headers={"user-agent": huge}
                )
                assert response.status_code == 200
            browser = server.client("192.0.2.40")
            user_code = response.json()["user_code"]
            entered = await server.enter_code(browser, user_code)
            confirm = await server.sign_in(browser, entered, user_code)
            assert confirm.status_code == 200
            assert len(confirm.content) < 16 * 1024  # was 1 MiB
            assert "TV/1.0 xxx" in confirm.text
    finally:
        storage.close()
    with sqlite3.connect(db) as conn:
        (longest,) = conn.execute(
            "SELECT max(length(device_user_agent)) FROM device_grants"
        ).fetchone()
    assert longest <= USER_AGENT_CHARS
    assert db.stat().st_size < MIB
