"""Server under abuse, over real HTTP: a polling storm beside an honest device, fuzzed requests,
and hostile names in Chromium (checklist 7, 10, 18).

One ``deviceflow serve`` on 127.0.0.1 serves the module; traffic is bounded and stops by itself.
Afterwards the server must still answer, must have printed no traceback, and its output must not
hold any code, token or password the tests saw.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, given, reject, settings

from tests.e2e.server.flows import enter_code, sign_in
from tests.hardening import figures
from tests.hardening.server.conftest import LogTally
from tests.hardening.server.fuzzing import AREAS, Request, requests_for
from tests.hardening.server.harness import HOSTILE_NAME, scaled
from tests.hardening.server.realserver import device_code_form
from tests.support.config import write_config
from tests.support.serverproc import CLIENT_ID, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("hardening-server-abuse")]

HOSTILE_USER = ("<img src=x onerror=window.__pwned=3>", "hostile-user-pw-1")
SCOPES = ["openid", "offline_access", "User.Read"]
CONFIG = {
    "interval": 2,
    "tenants": [{"id": "contoso", "name": "Contoso", "dialect": "rfc8628"}],
    "clients": [
        {"client_id": CLIENT_ID, "name": "Storm Lamp", "scopes": SCOPES},
        {"client_id": "hostile", "name": HOSTILE_NAME, "scopes": SCOPES},
    ],
    "users": [
        {
            "username": HOSTILE_USER[0],
            "password": HOSTILE_USER[1],
            "display_name": "<b>Mallory</b>",
            "tenant": "contoso",
        }
    ],
}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, log_tally: LogTally
) -> Iterator[ServerProcess]:
    folder: Path = tmp_path_factory.mktemp("abuse")
    proc = ServerProcess(folder=folder, config=write_config(folder, CONFIG))
    proc.remember(HOSTILE_USER[1])
    proc.start()
    try:
        yield proc
    finally:
        assert proc.stop() == 0
        assert not proc.tracebacks(), proc.tracebacks()
        assert not proc.leaked(), proc.leaked()
        log_tally.lines += proc.log_lines()
        log_tally.secrets |= proc.secrets


def start(server: ServerProcess, client_id: str = CLIENT_ID) -> dict[str, Any]:
    body: dict[str, Any] = httpx.post(
        f"{server.base_url}/contoso/oauth2/v2.0/devicecode",
        data={"client_id": client_id, "scope": "openid User.Read"},
    ).json()
    server.remember(body["device_code"], body["user_code"])
    return body


def storm(server: ServerProcess, stop: threading.Event, answers: Counter[str]) -> None:
    device_code = start(server)["device_code"]
    with httpx.Client(base_url=server.base_url, timeout=5) as http:
        for _ in range(400):  # bounded even if stop never comes
            if stop.is_set():
                return
            response = http.post("/contoso/oauth2/v2.0/token", data=device_code_form(device_code))
            answers[response.json().get("error", "ok")] += 1
            time.sleep(0.005)


def test_polling_storm_leaves_honest_latency_stable(server: ServerProcess) -> None:
    honest = start(server)
    latencies: list[float] = []
    errors: list[str] = []
    with httpx.Client(base_url=server.base_url, timeout=5) as http:

        def honest_poll() -> None:
            began = time.perf_counter()
            response = http.post(
                "/contoso/oauth2/v2.0/token", data=device_code_form(honest["device_code"])
            )
            latencies.append(time.perf_counter() - began)
            errors.append(response.json()["error"])

        honest_poll()
        baseline = latencies[0]
        answers: Counter[str] = Counter()
        stop = threading.Event()
        stormers = [threading.Thread(target=storm, args=(server, stop, answers)) for _ in range(3)]
        for thread in stormers:
            thread.start()
        try:
            for _ in range(scaled(3, 30)):
                time.sleep(honest["interval"] + 0.1)
                honest_poll()
        finally:
            stop.set()
            for thread in stormers:
                thread.join(30)
    assert set(errors) == {"authorization_pending"}  # never slow_down for the honest device
    assert answers["slow_down"] > 0 and answers["slow_down"] >= answers["authorization_pending"]
    storm_latencies = latencies[1:]
    assert max(storm_latencies) < 1.0
    figures.record(
        "Server under abuse",
        "polling storm over HTTP (3 storming devices, 1 honest)",
        storm_polls=sum(answers.values()),
        slow_down=answers["slow_down"],
        honest_polls=len(storm_latencies),
        honest_slow_down=0,
        honest_median_ms=round(statistics.median(storm_latencies) * 1000, 1),
        honest_max_ms=round(max(storm_latencies) * 1000, 1),
        idle_ms=round(baseline * 1000, 1),
    )


def send(http: httpx.Client, request: Request) -> int:
    method, path, query, headers, body, _ip = request
    kept = [(k, v.strip()) for k, v in headers if k not in (b"host", b"content-length")]
    # On the wire a query is ASCII: raw bytes travel percent-encoded (bad escapes stay bad).
    url = httpx.URL(path).copy_with(query=quote_from_bytes(query, safe="=&%+;,$").encode() or None)
    try:
        return http.request(method, url, headers=kept, content=body).status_code
    except httpx.RemoteProtocolError:
        return 400  # refused at the HTTP layer (uvicorn's own 4xx / close): not a 5xx
    except httpx.LocalProtocolError:
        reject()  # not even sendable as HTTP/1.1


def test_fuzzed_requests_over_http_never_get_a_5xx(server: ServerProcess) -> None:
    tokens = {"device_code": start(server)["device_code"]}
    total: Counter[int] = Counter()
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for area in AREAS:

            @settings(
                max_examples=scaled(25, 400),
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(request=requests_for(area, tokens))
            def run(request: Request) -> None:
                status = send(http, request)
                total[status] += 1
                assert status < 500, (status, request[:3])

            run()
        assert http.get("/contoso/discovery/v2.0/keys").status_code == 200
    figures.record(
        "Fuzzing",
        "every endpoint over real HTTP",
        cases=sum(total.values()),
        responses_5xx=0,
    )


def test_hostile_client_and_user_names_are_inert_in_chromium(
    server: ServerProcess, page: Any
) -> None:
    flow = start(server, client_id="hostile")
    shown = 0
    enter_code(page, server, flow["user_code"])  # the sign-in page names the client
    sign_in(page, *HOSTILE_USER)  # the confirm page names the client and the user
    for _ in range(2):
        text = page.inner_text("body")
        assert "<script>window.__pwned = 1</script>" in text  # shown as text ...
        assert page.evaluate("window.__pwned") is None  # ... and nothing ran
        assert page.locator("script").count() == 0 and page.locator("img[src=x]").count() == 0
        shown += 1
        if page.get_by_role("button", name="Approve").count():
            assert HOSTILE_USER[0] in text
            page.get_by_role("button", name="Approve").click()
    assert "Device approved" in page.inner_text("body")
    figures.record(
        "Server under abuse",
        "hostile client and user names in Chromium",
        pages=shown,
        scripts_run=0,
    )
