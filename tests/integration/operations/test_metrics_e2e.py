"""Acceptance: each counter of the metrics page moves by the right amount in a real flow.

A real ``deviceflow serve --metrics`` subprocess; the device speaks HTTP, the person approves
over HTTP on the verification pages (:func:`tests.support.pages.approve_over_http`); the page
is parsed with ``prometheus_client``'s own parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server.flows import poll, start_flow
from tests.integration.operations.metrics_page import Samples, moved, scrape, value
from tests.support.config import write_config
from tests.support.pages import approve_over_http, csrf_of
from tests.support.serverproc import (
    CLIENT_ID,
    PASSWORD,
    USERNAME,
    ServerProcess,
    e2e_config,
    serving,
)

pytestmark = pytest.mark.e2e

CONTROL_TOKEN = "metrics-e2e-test-control-token"
TOKEN_ROUTE = "/{tenant}/oauth2/v2.0/token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder: Path = tmp_path_factory.mktemp("metrics")
    config = {
        **e2e_config(interval=5),
        # Two wrong user codes from anywhere raise the guessing alarm; no leeway: a second
        # poll within the interval is answered slow_down.
        "rate_limits": {"guessing_alarm_failures": 2, "poll_leeway": 0},
        "test_control": True,
        "test_control_token": CONTROL_TOKEN,
    }
    process = ServerProcess(folder, write_config(folder, config), args=("--metrics",))
    with serving(process, clean=True) as running:
        yield running


def metrics(server: ServerProcess) -> Samples:
    return scrape(f"{server.base_url}/metrics")


def wrong_code(server: ServerProcess, browser: httpx.Client) -> None:
    page = browser.get("/devicelogin")
    answer = browser.post(
        "/devicelogin", data={"csrf_token": csrf_of(page.text), "code": "BCDF-GHJK"}
    )
    assert answer.status_code in (200, 400, 404), answer.status_code


def wrong_password(server: ServerProcess, user_code: str) -> None:
    with httpx.Client(base_url=server.base_url) as browser:
        entered = browser.post(
            "/devicelogin",
            data={"csrf_token": csrf_of(browser.get("/devicelogin").text), "code": user_code},
        )
        assert entered.status_code == 200
        refused = browser.post(
            "/devicelogin/signin",
            data={"csrf_token": csrf_of(entered.text), "code": user_code,
                  "username": USERNAME, "password": "not-the-password"},
        )  # fmt: skip
        assert refused.status_code != 500


def refresh(server: ServerProcess, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/contoso/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token,
              "client_id": CLIENT_ID},
    )  # fmt: skip


def expire(server: ServerProcess, user_code: str) -> None:
    answer = httpx.post(
        f"{server.base_url}/test-control/expire",
        json={"user_code": user_code},
        headers={"Authorization": f"Bearer {CONTROL_TOKEN}"},
    )
    assert answer.status_code == 200, answer.text


def test_counters_move_by_the_right_amount_in_an_end_to_end_flow(server: ServerProcess) -> None:
    before = metrics(server)
    assert value(before, "deviceflow_pending_flows") == 0
    approved, denied, expired = (start_flow(server) for _ in range(3))
    refused = httpx.post(
        f"{server.base_url}/contoso/oauth2/v2.0/devicecode", data={"client_id": "no-such-app"}
    )
    assert refused.status_code in (400, 401)
    assert value(metrics(server), "deviceflow_pending_flows") == 3

    assert poll(server, expired["device_code"]).json()["error"] == "authorization_pending"
    assert poll(server, denied["device_code"]).json()["error"] == "authorization_pending"
    assert poll(server, denied["device_code"]).json()["error"] == "slow_down"
    with httpx.Client(base_url=server.base_url) as browser:
        wrong_code(server, browser)
        wrong_code(server, browser)
    wrong_password(server, approved["user_code"])
    ok = approve_over_http(
        server.base_url, approved["user_code"], username=USERNAME, password=PASSWORD
    )
    assert ok.status_code == 200, ok.text
    no = approve_over_http(
        server.base_url, denied["user_code"], username=USERNAME, password=PASSWORD,
        decision="deny",
    )  # fmt: skip
    assert no.status_code == 200, no.text
    expire(server, expired["user_code"])
    issued = poll(server, approved["device_code"])  # its first poll: on time whenever it comes
    assert issued.status_code == 200, issued.text
    assert poll(server, denied["device_code"]).json()["error"] == "access_denied"
    assert poll(server, expired["device_code"]).json()["error"] == "expired_token"
    assert poll(server, "not-a-device-code").json()["error"] == "invalid_grant"
    assert refresh(server, issued.json()["refresh_token"]).status_code == 200
    assert refresh(server, "not-a-refresh-token").status_code == 400

    after = metrics(server)
    expected: list[tuple[str, dict[str, str], float]] = [
        ("deviceflow_device_authorizations_total",
         {"tenant": "contoso", "client": CLIENT_ID, "outcome": "issued"}, 3),
        ("deviceflow_device_authorizations_total",
         {"tenant": "contoso", "client": "unknown", "outcome": "unknown_client"}, 1),
        ("deviceflow_token_polls_total", {"outcome": "pending"}, 2),
        ("deviceflow_token_polls_total", {"outcome": "slow_down"}, 1),
        ("deviceflow_token_polls_total", {"outcome": "issued"}, 1),
        ("deviceflow_token_polls_total", {"outcome": "denied"}, 1),
        ("deviceflow_token_polls_total", {"outcome": "expired"}, 1),
        ("deviceflow_token_polls_total", {"outcome": "invalid"}, 1),
        ("deviceflow_approvals_total", {}, 1),
        ("deviceflow_denials_total", {}, 1),
        ("deviceflow_wrong_user_codes_total", {}, 2),
        ("deviceflow_guessing_alarms_total", {}, 1),
        ("deviceflow_refreshes_total", {"outcome": "issued"}, 1),
        ("deviceflow_refreshes_total", {"outcome": "refresh_unknown"}, 1),
        ("deviceflow_password_failures_total", {"reason": "wrong_password"}, 1),
        # 4xx: 2 pending, slow_down, denied, expired, invalid, the refused refresh
        ("deviceflow_http_request_duration_seconds_count",
         {"route": TOKEN_ROUTE, "status": "4xx"}, 7),
        ("deviceflow_http_request_duration_seconds_count",
         {"route": TOKEN_ROUTE, "status": "2xx"}, 2),
    ]  # fmt: skip
    moves = {(name, *labels.values()): moved(before, after, name, **labels)
             for name, labels, _ in expected}  # fmt: skip
    assert moves == {(name, *labels.values()): n for name, labels, n in expected}
    assert value(after, "deviceflow_pending_flows") == 0
    server.remember(issued.json()["refresh_token"], issued.json()["access_token"])


def test_label_values_never_hold_codes_or_raw_paths(server: ServerProcess) -> None:
    flow = start_flow(server)
    httpx.get(f"{server.base_url}/devicelogin?code={flow['user_code']}")
    httpx.get(f"{server.base_url}/no/such/page-4711")
    text = httpx.get(f"{server.base_url}/metrics").text
    assert flow["user_code"] not in text
    assert flow["device_code"] not in text
    assert "/no/such" not in text and "4711" not in text
    routes = {labels for (name, labels) in metrics(server) if name.endswith("_count")}
    assert frozenset({("route", "other"), ("status", "4xx")}) in routes


def test_metrics_are_off_unless_enabled(tmp_path: Path) -> None:
    plain = ServerProcess(tmp_path, write_config(tmp_path, e2e_config()))
    with serving(plain):
        assert httpx.get(f"{plain.base_url}/metrics").status_code == 404


def test_metrics_address_serves_the_page_there_only(tmp_path: Path) -> None:
    from tests.support.tools import free_port

    port = free_port()
    config: dict[str, Any] = e2e_config()
    separate = ServerProcess(
        tmp_path, write_config(tmp_path, config),
        args=("--metrics-address", f"127.0.0.1:{port}"),
    )  # fmt: skip
    with serving(separate, clean=True):
        assert f"metrics on http://127.0.0.1:{port}/metrics" in separate.stdout
        assert httpx.get(f"{separate.base_url}/metrics").status_code == 404
        samples = scrape(f"http://127.0.0.1:{port}/metrics")
        assert value(samples, "deviceflow_pending_flows") == 0
        assert httpx.get(f"http://127.0.0.1:{port}/devicelogin").status_code == 404
