"""The agent's notifiers, the profile state file, systemd notify and the agent's timing rules."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from deviceflow.cli.errors import UsageError
from deviceflow.cli.notify import (
    CommandNotifier,
    EmailNotifier,
    MqttNotifier,
    Notice,
    WebhookNotifier,
    deliver,
)
from deviceflow.cli.sdnotify import SystemdNotifier
from deviceflow.cli.state import AgentLock, ProfileState, agent_pid, error_record
from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.core._timing import (
    RELINK_BACKOFF,
    RELINK_MAX_BACKOFF,
    next_refresh_at,
    relink_delay,
)
from deviceflow.errors import ConnectError, InvalidGrantError
from deviceflow.transports import MockTransport

CODE = Notice(
    "code",
    "lamp",
    user_code="BCDF-GHJK",
    verification_uri="https://id.test/device",
    verification_uri_complete="",
    expires_at="2030-01-01T00:15:00Z",
)


def test_notice_fields_are_the_documented_names() -> None:
    assert CODE.fields() == {
        "event": "code",
        "user_code": "BCDF-GHJK",
        "verification_uri": "https://id.test/device",
        "verification_uri_complete": "",
        "expires_at": "2030-01-01T00:15:00Z",
        "profile": "lamp",
    }
    assert Notice("error", "lamp", reason="sign-in denied").fields()["reason"] == "sign-in denied"
    assert "https://id.test/device" in CODE.text() and "BCDF-GHJK" in CODE.text()


def test_command_notifier_sets_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    script = tmp_path / "hook.py"
    script.write_text(
        "import json, os, sys\n"
        "json.dump({k: v for k, v in os.environ.items() if k.startswith('DEVICEFLOW_')},"
        " open(sys.argv[1], 'w'))\n"
    )
    CommandNotifier(f"{sys.executable} {script} {out}", environ={"PATH": "/usr/bin"}).send(CODE)
    seen = json.loads(out.read_text())
    assert seen == {
        "DEVICEFLOW_EVENT": "code",
        "DEVICEFLOW_USER_CODE": "BCDF-GHJK",
        "DEVICEFLOW_VERIFICATION_URI": "https://id.test/device",
        "DEVICEFLOW_VERIFICATION_URI_COMPLETE": "",
        "DEVICEFLOW_EXPIRES_AT": "2030-01-01T00:15:00Z",
        "DEVICEFLOW_PROFILE": "lamp",
        "DEVICEFLOW_REASON": "",
    }


def test_command_notifier_failure_is_reported_and_others_still_run(tmp_path: Path) -> None:
    failing = CommandNotifier(f"{sys.executable} -c 'import sys; sys.exit(3)'", environ={})
    posted: list[bytes] = []

    def hook(request: HttpRequest) -> HttpResponse:
        posted.append(request.body)
        return HttpResponse(status=204)

    webhook = WebhookNotifier("http://hook.test/x", transport=MockTransport(hook), sleep=print)
    lines: list[str] = []
    assert deliver([failing, webhook], CODE, lines.append) == 1
    assert lines == [f"command notifier {failing.target} failed: exit status 3"]
    assert json.loads(posted[0]) == CODE.fields()


def test_webhook_is_retried_then_gives_up() -> None:
    answers = [ConnectError("refused"), HttpResponse(status=503), HttpResponse(status=200)]
    slept: list[float] = []

    def hook(request: HttpRequest) -> HttpResponse:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    WebhookNotifier("http://hook.test", transport=MockTransport(hook), sleep=slept.append).send(
        CODE
    )
    assert slept == [1.0, 3.0] and answers == []
    down = WebhookNotifier(
        "http://hook.test",
        transport=MockTransport(lambda r: HttpResponse(status=500)),
        sleep=slept.append,
    )
    with pytest.raises(RuntimeError, match="HTTP 500"):
        down.send(CODE)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MqttNotifier("mqtt://broker.test"), "mqtt://host:1883/topic"),
        (lambda: MqttNotifier("http://broker.test/t"), "mqtt://host:1883/topic"),
        (lambda: EmailNotifier("owner", smtp=None), "e-mail address"),
        (lambda: EmailNotifier("a@b.test", smtp="http://mail"), "--smtp"),
        (lambda: CommandNotifier("", environ={}), "empty"),
    ],
)
def test_malformed_targets_are_usage_errors(make: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        make()  # type: ignore[operator]


def test_mqtt_target_parts_and_password_never_shown() -> None:
    notifier = MqttNotifier("mqtts://ha:s3cret@broker.test/home%2Fdevice/code")
    assert (notifier.host, notifier.port, notifier.tls) == ("broker.test", 8883, True)
    assert notifier.topic == "home/device/code" and notifier.auth == ("ha", "s3cret")
    lines: list[str] = []
    closed = MqttNotifier("mqtt://u:s3cret@127.0.0.1:9/t")
    deliver([closed], CODE, lines.append)
    assert lines and "s3cret" not in lines[0] and "[redacted]" in lines[0]


def test_email_through_a_real_smtp_server() -> None:
    from aiosmtpd.controller import Controller

    from tests.support.tools import free_port

    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            received.append(envelope.original_content)  # type: ignore[attr-defined]
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        EmailNotifier("owner@example.test", smtp=f"smtp://127.0.0.1:{port}").send(CODE)
    finally:
        controller.stop()
    text = received[0].decode()
    assert "Subject: deviceflow: Sign-in code BCDF-GHJK (lamp)" in text
    assert "To: owner@example.test" in text and "user_code: BCDF-GHJK" in text


def test_state_file_roundtrip_and_private_mode(tmp_path: Path) -> None:
    state = ProfileState(str(tmp_path), "lamp")
    assert state.read()["last_error"] is None
    error = error_record(
        InvalidGrantError("invalid_grant", "AADSTS700082: idle", error_codes=(700082,)),
        at=5.0,
        source="agent",
    )
    state.update(last_error=error, last_refresh_at=4.0)
    assert state.read()["last_error"] == {
        "at": 5.0,
        "source": "agent",
        "error": "invalid_grant",
        "description": "AADSTS700082: idle",
        "error_codes": [700082],
    }
    assert (tmp_path / "lamp.state").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError, match="unknown state field"):
        state.update(colour="red")
    (tmp_path / "lamp.state").write_text("{not json")
    assert state.read()["last_refresh_at"] is None
    assert error_record(ConnectError("refused"), at=1, source="token")["error"] == "network_error"


def test_agent_lock_and_pid(tmp_path: Path) -> None:
    assert agent_pid(str(tmp_path), "lamp") is None
    lock = AgentLock(str(tmp_path), "lamp")
    lock.acquire()
    try:
        assert agent_pid(str(tmp_path), "lamp") is not None
        with pytest.raises(BlockingIOError):
            AgentLock(str(tmp_path), "lamp").acquire()
    finally:
        lock.release()
    assert agent_pid(str(tmp_path), "lamp") is None  # the file stays, the lock is gone


def test_systemd_notify_protocol(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})
        assert notifier.watchdog_interval == 15.0
        assert notifier.send(READY="1", STATUS="keeping\nfresh")
        assert sock.recv(100) == b"READY=1\nSTATUS=keeping fresh"
    assert not notifier.send(WATCHDOG="1")  # the supervisor went away: no error
    quiet = SystemdNotifier({})
    assert not quiet.enabled and quiet.watchdog_interval is None and not quiet.send(READY="1")


def test_next_refresh_and_relink_delay() -> None:
    plan = dict(expires_at=10_000.0, issued_at=6_400.0, last_refresh_at=6_400.0, jitter=0.0)
    assert next_refresh_at(keepalive=86_400, **plan) == 10_000 - 300  # ahead of expiry
    assert next_refresh_at(keepalive=1_000, **plan) == 7_400  # the keepalive comes first
    assert next_refresh_at(keepalive=1_000, **{**plan, "jitter": 0.5}) == 7_350
    short = dict(plan, expires_at=6_460.0)  # a one-minute token: refreshed 15 s ahead
    assert next_refresh_at(keepalive=1_000, **short) == 6_445
    assert next_refresh_at(keepalive=1_000, **{**plan, "expires_at": None}) == 7_400
    assert [relink_delay(n) for n in range(5)] == [0, 0, 0, RELINK_BACKOFF, 2 * RELINK_BACKOFF]
    assert relink_delay(30) == RELINK_MAX_BACKOFF
