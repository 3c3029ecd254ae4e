"""``deviceflow agent`` in-process: planning, back-off and re-linking on injected clocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from deviceflow.cli.agent import Agent, AgentOptions
from deviceflow.cli.context import context_from_flags
from deviceflow.cli.errors import UsageError
from deviceflow.cli.notify import Notice
from deviceflow.cli.state import AgentLock, ProfileState
from deviceflow.core import HttpResponse
from deviceflow.core._timing import REFRESH_AHEAD
from tests.unit.cli.fakeidp import FakeIdP, Harness, reply


class Recorder:
    """A notifier that keeps what it was sent (and the time)."""

    kind = "recorder"
    target = "memory://"

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.notices: list[tuple[float, Notice]] = []

    def send(self, notice: Notice) -> None:
        self.notices.append((self.harness.now, notice))

    def events(self) -> list[str]:
        return [n.event for _, n in self.notices]


class Setup:
    """A signed-in harness, an agent on its profile, and the times of each refresh."""

    def __init__(self, tmp_path: Path, idp: FakeIdP | None = None, keepalive: float = 1000) -> None:
        self.h = Harness(tmp_path, idp)
        assert self.h.run("login") == 0
        self.t0 = self.h.now
        self.refreshed_at: list[float] = []
        self.answers: list[HttpResponse] = []
        self.h.idp.refresh_answer = self._answer
        self.stop_after: float | None = None
        self.recorder = Recorder(self.h)
        ctx = context_from_flags({}, self.h.world())
        self.agent = Agent(
            ctx,
            AgentOptions(keepalive=keepalive),
            [self.recorder],
            wait=self._wait,
            jitter=lambda: 0.0,
        )

    def _answer(self) -> HttpResponse:
        self.refreshed_at.append(self.h.now - self.t0)
        if self.answers:
            return self.answers.pop(0)
        return reply(200, self.h.idp.tokens("User.Read"))

    def _wait(self, seconds: float) -> bool:
        self.h.sleep(seconds)
        return self.stop_after is not None and self.h.now - self.t0 >= self.stop_after

    def run_until(self, seconds: float) -> int:
        self.stop_after = seconds
        return self.agent.run()

    def log(self) -> str:
        return self.h.stderr.getvalue()


def test_agent_refreshes_at_start_then_every_keepalive(tmp_path: Path) -> None:
    s = Setup(tmp_path, keepalive=1000)
    assert s.run_until(3500) == 0
    assert s.refreshed_at == [0, 1000, 2000, 3000]
    assert "stopped" in s.log() and "refreshed; access token valid until" in s.log()
    state = ProfileState(str(s.h.cache_dir), "default").read()
    assert state["last_refresh_at"] == s.t0 + 3000
    assert state["next_refresh_at"] == s.t0 + 4000


def test_agent_refreshes_ahead_of_access_token_expiry(tmp_path: Path) -> None:
    s = Setup(tmp_path, keepalive=10**6)
    s.run_until(7000)
    ahead = 3600 - REFRESH_AHEAD  # the tokens live an hour; a quarter of that is more than 300 s
    assert s.refreshed_at == [0, ahead, 2 * ahead]


def test_agent_keepalive_jitter_only_moves_earlier(tmp_path: Path) -> None:
    s = Setup(tmp_path, keepalive=1000)
    s.agent._jitter = lambda: 0.999
    s.run_until(1000)
    assert len(s.refreshed_at) == 2 and 900 < s.refreshed_at[1] < 1000


def test_agent_backs_off_after_transient_failures(tmp_path: Path) -> None:
    s = Setup(tmp_path, keepalive=1000)
    s.answers = [reply(503, {"error": "temporarily_unavailable"}), reply(503, {})]
    s.run_until(100)
    assert s.refreshed_at == [0, 5, 15]
    assert s.log().count("refresh failed") == 2
    assert s.recorder.notices == []  # a transient fault is not the owner's business


def test_agent_relinks_when_the_refresh_is_refused_for_good(tmp_path: Path) -> None:
    idp = FakeIdP(poll_script=["pending", "ok"])
    s = Setup(tmp_path, idp, keepalive=1000)
    idp.poll_script = ["pending", "ok"]
    refused = {
        "error": "invalid_grant",
        "error_description": "AADSTS700082: The refresh token has expired due to inactivity.",
        "error_codes": [700082],
    }
    s.answers = [reply(400, refused)]
    s.run_until(1500)
    assert s.recorder.events() == ["code", "relinked"]
    code = s.recorder.notices[0][1]
    assert code.user_code == "BCDF-GHJK" and code.profile == "default"
    assert code.verification_uri_complete.endswith("?code=BCDF-GHJK")
    assert code.expires_at.endswith("Z")
    log = s.log()
    assert "refresh token expired through inactivity (AADSTS700082)" in log
    assert "enter the code BCDF-GHJK" in log and "relinked as Adele Vance" in log
    assert "dc-secret" not in log and "refresh-" not in log and "access-" not in log
    state = ProfileState(str(s.h.cache_dir), "default").read()
    assert state["relinked_at"] is not None and state["last_error"] is None
    assert s.agent.relinks == 1
    assert s.refreshed_at[-1] >= 1000  # and it went on refreshing with the new sign-in


def test_agent_sends_fresh_codes_then_backs_off(tmp_path: Path) -> None:
    idp = FakeIdP()
    s = Setup(tmp_path, idp, keepalive=10**6)
    idp.poll_script = ["expired"] * 4 + ["ok"]
    s.answers = [reply(400, {"error": "invalid_grant"})]
    s.run_until(4000)
    assert s.recorder.events() == ["code"] * 5 + ["relinked"]
    times = [t for t, n in s.recorder.notices if n.event == "code"]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(gap < 60 for gap in gaps[:2])  # a fresh code as soon as one expires
    assert 900 <= gaps[2] < 960 and 1800 <= gaps[3] < 1860  # then the back-off doubles
    assert "the code expired unused" in s.log()


def test_agent_reports_a_denied_relink_as_an_error_event(tmp_path: Path) -> None:
    idp = FakeIdP()
    s = Setup(tmp_path, idp)
    idp.poll_script = ["denied", "ok"]
    s.answers = [reply(400, {"error": "invalid_grant"})]
    s.run_until(100)
    assert s.recorder.events() == ["code", "error", "code", "relinked"]
    error = s.recorder.notices[1][1]
    assert error.reason == "the sign-in failed: sign-in denied (access_denied)"
    assert error.fields()["reason"] == error.reason


def test_agent_signs_in_a_profile_nobody_signed_in(tmp_path: Path) -> None:
    h = Harness(tmp_path, FakeIdP(poll_script=["ok"]))
    recorder = Recorder(h)
    stop = {"at": h.now + 60}
    agent = Agent(
        context_from_flags({}, h.world()),
        AgentOptions(),
        [recorder],
        wait=lambda seconds: h.sleep(seconds) or h.now >= stop["at"],
    )
    agent.run()
    assert recorder.events() == ["code", "relinked"]
    assert h.cache().load("default") is not None


def test_a_second_agent_on_the_profile_is_refused(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    lock = AgentLock(str(s.h.cache_dir), "default")
    lock.acquire()
    try:
        with pytest.raises(UsageError, match="already runs on profile 'default'"):
            s.run_until(10)
    finally:
        lock.release()
    assert s.refreshed_at == []


def test_agent_command_rejects_bad_flags(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert h.run("agent", "--keepalive", "0") == 2
    assert "--keepalive must be a positive" in h.stderr.getvalue()
    assert h.run("agent", "--notify-webhook", "ftp://x") == 2
    assert h.run("agent", "--notify-mqtt", "mqtt://host") == 2  # no topic
    assert h.run("agent", "--notify-email", "not-an-address") == 2
    assert h.run("agent", "--notify-command", "'unclosed") == 2


def test_notifier_settings_come_from_the_config_file(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    config = tmp_path / "config.ini"
    config.write_text(
        "[default]\nnotify_webhook = http://a.test/1\n  http://b.test/2\n"
        "notify_email = owner@example.test\nsmtp = smtp://mail.test:2525\n"
    )
    h.environ["DEVICEFLOW_CLI_CONFIG"] = str(config)
    ctx = context_from_flags({"notify_mqtt": ["mqtt://broker.test/t"]}, h.world())
    assert ctx.settings.notify == (
        ("webhook", "http://a.test/1"),
        ("webhook", "http://b.test/2"),
        ("mqtt", "mqtt://broker.test/t"),
        ("email", "owner@example.test"),
    )
    assert ctx.settings.smtp == "smtp://mail.test:2525"
