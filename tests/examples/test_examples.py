from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.graph import GraphClient
from deviceflow.transports import MockTransport
from tests.support.tools import ROOT

EXAMPLES = ROOT / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_presence_light_follows_presence_changes() -> None:
    light = load("presence_light")
    answers = ["Available", "Available", "Busy", "Away", "Mystery"]
    requests: list[HttpRequest] = []

    def handler(request: HttpRequest) -> HttpResponse:
        requests.append(request)
        body = {"availability": answers.pop(0), "activity": "x"}
        return HttpResponse(status=200, body=json.dumps(body).encode())

    graph = GraphClient(
        MockTransport(handler), lambda *, force_refresh=False: "tok", base_url="http://g.test"
    )
    shown: list[str] = []
    sleeps: list[float] = []
    light.follow(graph, shown.append, interval=30, sleep=sleeps.append, polls=5)
    assert shown == ["green", "red", "yellow", "off"]
    assert sleeps == [30] * 4
    assert requests[0].url == "http://g.test/v1.0/me/presence"
    assert light.colour_for(None) == "off"


def test_presence_light_waits_for_the_agent_when_the_sign_in_is_refused() -> None:
    from deviceflow.cli.errors import SignInRequiredError
    from deviceflow.errors import ConnectError

    light = load("presence_light")
    outcomes: list[object] = [
        SignInRequiredError("refused"),
        SignInRequiredError("refused"),
        ConnectError("down"),
        "Busy",
    ]

    def handler(request: HttpRequest) -> HttpResponse:
        body = {"availability": outcomes.pop(0), "activity": "x"}
        return HttpResponse(status=200, body=json.dumps(body).encode())

    def token(*, force_refresh: bool = False) -> str:
        if isinstance(outcomes[0], Exception):
            raise outcomes.pop(0)  # type: ignore[misc]
        return "tok"

    graph = GraphClient(MockTransport(handler), token, base_url="http://g.test")
    shown: list[str] = []
    light.follow(graph, shown.append, interval=1, sleep=lambda _s: None, polls=4)
    assert shown == [light.NEEDS_OWNER, light.NO_NETWORK, "red"]


def test_custom_display_renders_events() -> None:
    display = load("custom_display")
    code = {
        "event": "code",
        "user_code": "BCDF-GHJK",
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": 900,
    }
    assert display.render(code) == [
        "microsoft.com       ",  # the address wraps before a "/", never cut
        "/devicelogin        ",
        "Code: BCDF-GHJK     ",
        "Expires in 15 min   ",
    ]
    assert display.render({"event": "signed_in", "name": "Adele Vance"})[1].rstrip() == (
        "Adele Vance"
    )
    assert display.render({"event": "error", "error": "access_denied"})[1].rstrip() == (
        "access_denied"
    )
    assert all(len(row) == 20 for row in display.render({"event": "pending"}))


def test_custom_display_keeps_the_address_and_code_while_pending() -> None:
    display = load("custom_display")
    code = {
        "event": "code",
        "user_code": "AHQX6DLT2",
        "verification_uri": "http://127.0.0.1:8765/devicelogin",
        "expires_in": 900,
    }
    short = {**code, "verification_uri": "https://aka.ms/devicelogin"}
    for event, status in [
        ({"event": "pending", "interval": 5}, "Waiting for you..."),
        ({"event": "slow_down", "interval": 10}, "Waiting, every 10 s"),
        ({"event": "retrying", "attempt": 1}, "Network: retrying"),
    ]:
        assert [row.rstrip() for row in display.render(event, code)] == [
            "127.0.0.1:8765",
            "/devicelogin",
            "Code: AHQX6DLT2",
            status,
        ]
        assert [row.rstrip() for row in display.render(event, short)][:3] == [
            "Sign in at",
            "aka.ms/devicelogin",
            "Code: AHQX6DLT2",
        ]
    long = {**code, "verification_uri": "https://login.example.org/tenant-with-a-long-name/device"}
    rows = [row.rstrip() for row in display.render(code | long)]
    assert "".join(rows[:3]) == "login.example.org/tenant-with-a-long-name/device"
    assert rows[3:] == ["Code: AHQX6DLT2", "Expires in 15 min"]
    assert all(len(row) <= 20 for row in rows)


def test_custom_display_reads_json_lines_from_a_pipe() -> None:
    events = [
        {"event": "code", "user_code": "X", "verification_uri": "http://h/d", "expires_in": 60},
        {"event": "slow_down", "interval": 10},
        {"event": "retrying", "attempt": 1},
        {"event": "signed_in", "name": None, "username": "adele"},
    ]
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "custom_display.py")],
        input="".join(json.dumps(e) + "\n" for e in events) + "\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert "|Welcome,            |\n|adele               |" in proc.stdout
    assert proc.stdout.count("+--------------------+") == 8


def test_custom_display_without_sign_in_exits_1(tmp_path: Path) -> None:
    display = load("custom_display")
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"event": "error", "error": "expired_token"}) + "\n")
    out = tmp_path / "screen.txt"
    with events.open() as src, out.open("w") as dst:
        assert display.run(src, dst) == 1
    assert "|expired_token       |" in out.read_text()
    assert display.render({"event": "unknown"}) == [" " * 20] * 4


def test_systemd_unit_runs_the_agent_as_a_notify_service(tmp_path: Path) -> None:
    import configparser
    import shutil as sh

    from tests.support.tools import require_tool

    unit = EXAMPLES / "systemd" / "deviceflow-agent@.service"
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    service = parser["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["ExecStart"].endswith("deviceflow agent --profile %i")
    assert service["KillSignal"] == "SIGTERM"
    instance = tmp_path / "deviceflow-agent@lamp.service"
    sh.copy(unit, instance)
    analyze = require_tool("systemd-analyze", "apt-get install systemd")
    done = subprocess.run(
        [analyze, "verify", str(instance)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "deviceflow-agent@lamp.service" not in done.stderr  # no complaint about the unit


def test_home_assistant_example_reads_the_notice_fields() -> None:
    text = (EXAMPLES / "systemd" / "home-assistant.yaml").read_text()
    for field in ("event", "user_code", "verification_uri", "verification_uri_complete"):
        assert f"payload_json.{field}" in text or f"value_json.{field}" in text
    assert "expires_at" in text
