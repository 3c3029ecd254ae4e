"""The original sample's Postman collection, run by newman, with only its hosts retargeted.

The collection (``shared/peers/seed-postman``) speaks v1: GET requests with form bodies, the
device code sent as ``code``, ``resource`` next to ``scope``, and a refresh without ``resource``.
It saves only the device code, so the user code is read from newman's JSON report of the first
run; the folders run in two newman invocations with the approval in Chromium in between. The
device code the first run saved is handed to the second as ``--env-var DeviceCode=...`` (what a
Postman user's session keeps between clicks); the collection file is not touched beyond its hosts.
Every response must be 2xx (the collection itself asserts only two of them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.interop.microsoft.emulator import CLIENT_ID, TENANT, approve
from tests.support.serverproc import ServerProcess
from tests.support.tools import ROOT, missing, require_node_package, require_tool

pytestmark = [pytest.mark.interop, pytest.mark.xdist_group("ms-interop-postman")]

SEED = ROOT / ".." / "shared" / "peers" / "seed-postman"


def _newman(
    newman: Path, collection: Path, folders: list[str], report: Path, ca: Path, *extra: str
) -> list[dict[str, Any]]:
    command = [str(newman), "run", str(collection), "--ssl-extra-ca-certs", str(ca), *extra]
    for folder in folders:
        command += ["--folder", folder]
    command += ["--reporters", "json", "--reporter-json-export", str(report)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    executions: list[dict[str, Any]] = json.loads(report.read_text())["run"]["executions"]
    assert executions, proc.stdout + proc.stderr
    return executions


def _status(execution: dict[str, Any]) -> tuple[str, int]:
    return execution["item"]["name"], int(execution["response"]["code"])


def _body(execution: dict[str, Any]) -> dict[str, Any]:
    data = bytes(execution["response"]["stream"]["data"])
    body: dict[str, Any] = json.loads(data)
    return body


def test_seed_postman_collection_runs_against_the_emulator(
    emulator: ServerProcess, browser: Any, tmp_path: Path
) -> None:
    if not (SEED / "device_auth.postman_collection.json").is_file():
        missing("shared/peers/seed-postman", "the shared folder beside the checkout")
    require_tool("node")
    newman = require_node_package("newman").parent / ".bin" / "newman"
    retargeted = tmp_path / "collection.json"
    subprocess.run(
        [
            sys.executable, str(SEED / "retarget.py"),
            str(SEED / "device_auth.postman_collection.json"), str(retargeted),
            "--base-url", emulator.base_url, "--tenant-id", TENANT, "--client-id", CLIENT_ID,
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    first = _newman(newman, retargeted, ["Initial Request"], tmp_path / "r1.json", emulator.ca)
    assert [_status(e) for e in first] == [("Initial Request", 200)]
    started = _body(first[0])
    assert set(started) >= {"user_code", "device_code", "verification_url", "message"}
    assert started["expires_in"] == "900" and started["interval"] == "1"
    approve(browser, emulator.base_url, started["user_code"])
    rest = _newman(
        newman, retargeted, ["Poll for Token", "Use Token", "Refresh Token"],
        tmp_path / "r2.json", emulator.ca, "--env-var", f"DeviceCode={started['device_code']}",
    )  # fmt: skip
    assert [_status(e) for e in rest] == [
        ("Poll for Token", 200),
        ("Use Token", 200),
        ("Refresh Token", 200),
    ]
    tokens = _body(rest[0])
    assert tokens["resource"] == "https://graph.microsoft.com"
    assert isinstance(tokens["expires_on"], str) and tokens["expires_on"].isdigit()
    assert _body(rest[1])["displayName"] == "Adele Vance"
    assert _body(rest[2])["refresh_token"] != tokens["refresh_token"]
