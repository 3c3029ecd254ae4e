"""``deviceflow serve --log-format json``: one JSON object per line, with the request's context,
and no secret anywhere (the device code, user code, tokens and password are all remembered and
looked for by :func:`~tests.support.serverproc.serving` with ``clean``)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.server.flows import poll
from tests.support.config import write_config
from tests.support.pages import approve_over_http
from tests.support.serverproc import (
    CLIENT_ID,
    PASSWORD,
    USERNAME,
    ServerProcess,
    e2e_config,
    serving,
)

pytestmark = pytest.mark.e2e


def test_json_log_lines_carry_request_ids_and_no_secrets(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path, write_config(tmp_path, e2e_config()), args=("--log-format", "json")
    )
    with serving(server, clean=True):
        server.remember(PASSWORD)
        traced = httpx.post(
            f"{server.base_url}/contoso/oauth2/v2.0/devicecode",
            data={"client_id": CLIENT_ID, "scope": "openid offline_access"},
            headers={"X-Request-Id": "trace-me-42"},
        )
        assert traced.headers["x-request-id"] == "trace-me-42"
        flow = traced.json()
        server.remember(flow["device_code"], flow["user_code"])
        approve_over_http(server.base_url, flow["user_code"], username=USERNAME, password=PASSWORD)
        assert poll(server, flow["device_code"]).status_code == 200
    lines = [
        line
        for path in server.log_files()
        if path.name.endswith("stderr.log")
        for line in path.read_text().splitlines()
    ]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    keys = {"time", "level", "event", "request_id", "tenant", "client", "outcome"}
    assert all(keys <= set(record) for record in records)
    issued = [r for r in records if r["event"] == "device_code_issued"]
    assert [(r["request_id"], r["tenant"], r["client"]) for r in issued] == [
        ("trace-me-42", "contoso", CLIENT_ID)
    ]
    assert all(r["tenant"] == "contoso" for r in records if r["request_id"] == "trace-me-42")
    approved = [r for r in records if r["event"] == "grant_approved"]
    assert len(approved) == 1 and approved[0]["request_id"] not in (None, "trace-me-42")
