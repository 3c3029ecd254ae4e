"""Request ids, the metrics recorder in process, JSON log records and the draining probe.

The app runs in process (``create_app`` over memory storage and a :class:`FakeClock`), so time
moves only when the test says.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deviceflow.server.app import create_app
from deviceflow.server.endpoints._observe import REQUEST_ID, current, request_scope
from deviceflow.server.grant import AUTHORIZATION_PENDING
from deviceflow.server.logsafe import JsonFormatter
from deviceflow.server.metrics import NO_METRICS, PrometheusRecorder
from deviceflow.server.storage.memory import MemoryStorage
from tests.support.app_harness import BASE, CLIENT_ID, DEVICE_GRANT, harness_settings
from tests.support.clock import FakeClock

TOKEN_PATH = "/contoso/oauth2/v2.0/token"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _client(metrics: bool, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    settings = dataclasses.replace(harness_settings(), metrics=metrics)
    app = create_app(settings, storage=MemoryStorage(), clock=clock, rng=secrets.token_bytes)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def app_client(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(False, clock):
        yield client


@pytest.fixture
async def metered(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(True, clock):
        yield client


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.anyio
async def test_request_id_is_echoed_when_sane_and_made_up_otherwise(
    app_client: httpx.AsyncClient,
) -> None:
    given = await app_client.get("/healthz", headers={"X-Request-Id": "lb-42.a:b_c"})
    assert given.headers["x-request-id"] == "lb-42.a:b_c"
    ids = set()
    for bad in ("two words", "x" * 65, "a;b", ""):
        answer = await app_client.get("/healthz", headers={"X-Request-Id": bad})
        assert answer.headers["x-request-id"] != bad
        ids.add(answer.headers["x-request-id"])
    plain = await app_client.post(TOKEN_PATH, data={"grant_type": "nope"})  # the hot path too
    ids.add(plain.headers["x-request-id"])
    assert len(ids) == 5


@pytest.mark.anyio
async def test_token_poll_behind_a_trusted_proxy_gets_every_layer_from_the_hot_path(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Token requests are served in front of the app's layers (endpoints._hotpath): the proxy's
    # forwarded address, the request id, the log context and the latency metric all hold.
    settings = dataclasses.replace(harness_settings(), metrics=True, trusted_proxies=("10.0.0.1",))
    app = create_app(settings, storage=MemoryStorage(), clock=clock, rng=secrets.token_bytes)
    seen: dict[str, object] = {}

    async def pending(**poll: object) -> object:
        info = current()
        seen.update(ip=poll["ip"], request_id=info and info.request_id, tenant=info and info.tenant)
        return AUTHORIZATION_PENDING

    monkeypatch.setattr(app.state.ctx.engine.device, "apoll", pending)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        form = {"grant_type": DEVICE_GRANT, "device_code": "d", "client_id": CLIENT_ID}
        headers = {"X-Forwarded-For": "203.0.113.5", "X-Request-Id": "poll-1"}
        answer = await client.post(TOKEN_PATH, data=form, headers=headers)
        assert answer.json()["error"] == "authorization_pending"
        assert answer.headers["x-request-id"] == "poll-1"
        assert seen == {"ip": "203.0.113.5", "request_id": "poll-1", "tenant": "contoso"}
        page = samples((await client.get("/metrics")).text)
    route = frozenset({("route", "/{tenant}/oauth2/v2.0/token"), ("status", "4xx")})
    assert page[("deviceflow_http_request_duration_seconds_count", route)] == 1


@pytest.mark.anyio
async def test_metrics_page_is_absent_without_metrics(app_client: httpx.AsyncClient) -> None:
    assert (await app_client.get("/metrics")).status_code == 404
    assert app_client.app.state.ctx.engine.recorder is NO_METRICS  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_expired_polls_and_pending_gauge_follow_the_clock(
    metered: httpx.AsyncClient, clock: FakeClock
) -> None:
    flow = await metered.post(
        "/contoso/oauth2/v2.0/devicecode", data={"client_id": CLIENT_ID, "scope": "openid"}
    )
    assert flow.status_code == 200
    page = samples((await metered.get("/metrics")).text)
    assert page[("deviceflow_pending_flows", frozenset())] == 1
    clock.advance(flow.json()["expires_in"] + 1)
    form = {"grant_type": DEVICE_GRANT, "device_code": flow.json()["device_code"]}
    answer = await metered.post(TOKEN_PATH, data={**form, "client_id": CLIENT_ID})
    assert answer.json()["error"] == "expired_token"
    page = samples((await metered.get("/metrics")).text)
    assert page[("deviceflow_pending_flows", frozenset())] == 0
    assert page[("deviceflow_token_polls_total", frozenset({("outcome", "expired")}))] == 1


@pytest.mark.anyio
async def test_labels_stay_bounded_for_unknown_clients_and_paths(
    metered: httpx.AsyncClient,
) -> None:
    for n in range(3):
        await metered.post(
            "/contoso/oauth2/v2.0/devicecode", data={"client_id": f"made-up-{n}", "scope": "x"}
        )
        await metered.get(f"/random/path/{n}")
    page = samples((await metered.get("/metrics")).text)
    clients = {dict(labels).get("client") for name, labels in page if "authorizations" in name}
    assert clients == {"unknown"}
    routes = {dict(labels).get("route") for name, labels in page if "duration" in name}
    assert routes == {"/{tenant}/oauth2/v2.0/devicecode", "other"}


def test_recorder_counts_sign_in_refusals_by_reason() -> None:
    recorder = PrometheusRecorder(tenants=bool, clients=bool, pending=lambda: 0)
    recorder.audited("sign_in", {"result": False, "refused": "account_locked"})
    recorder.audited("sign_in", {"result": False})
    recorder.audited("sign_in", {"result": True})
    page = samples(recorder.exposition()[0].decode())
    name = "deviceflow_password_failures_total"
    assert page[(name, frozenset({("reason", "account_locked")}))] == 1
    assert page[(name, frozenset({("reason", "wrong_password")}))] == 1


@pytest.mark.anyio
async def test_readyz_answers_503_while_draining(app_client: httpx.AsyncClient) -> None:
    assert (await app_client.get("/readyz")).json() == {"status": "ready"}
    app_client.app.state.health.draining = True  # type: ignore[attr-defined]
    answer = await app_client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "reason": "draining"}
    assert (await app_client.get("/healthz")).status_code == 200


def test_json_formatter_writes_one_object_per_line_with_the_request_context() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    audit = logging.getLogger("tests.observe.audit")
    access = logging.getLogger("deviceflow.server.access")
    levels = [log.level for log in (audit, access)]
    for log in (audit, access):
        log.addHandler(handler)
        log.propagate = False
        log.setLevel(logging.INFO)
    token = request_scope.set({"path_params": {"tenant": "contoso"}, REQUEST_ID: "req-1"})
    try:
        payload = {"event": "device_code_issued", "client_id": "lamp", "user_code": "ab12cd34"}
        audit.info("device_code_issued {...}", extra={"audit": payload})
        access.info("%s %s %d", "GET", "/x\ny", 404)
    finally:
        request_scope.reset(token)
        for log, level in zip((audit, access), levels, strict=True):
            log.removeHandler(handler)
            log.propagate = True
            log.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert {k: first[k] for k in ("event", "request_id", "tenant", "client", "outcome")} == {
        "event": "device_code_issued", "request_id": "req-1", "tenant": "contoso",
        "client": "lamp", "outcome": None,
    }  # fmt: skip
    assert first["fields"] == {"client_id": "lamp", "user_code": "ab12cd34"}  # a fingerprint
    assert {"time", "level", "logger", "message"} <= set(first)
    assert (second["event"], second["outcome"], second["message"]) == (
        "http_request", 404, "GET /x\ny 404",
    )  # fmt: skip


def test_pending_gauge_is_nan_when_storage_cannot_answer() -> None:
    def unreachable() -> int:
        raise ConnectionError("database down")

    recorder = PrometheusRecorder(tenants=bool, clients=bool, pending=unreachable)
    page = samples(recorder.exposition()[0].decode())
    assert math.isnan(page[("deviceflow_pending_flows", frozenset())])
