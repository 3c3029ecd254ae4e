"""The bounds on request-derived text the server stores (issue 12)."""

from __future__ import annotations

from deviceflow.server.grant._bounds import (
    ADDRESS_CHARS,
    USER_AGENT_CHARS,
    bounded_device,
    clip,
)


def test_clip_keeps_text_up_to_the_limit_and_marks_a_cut() -> None:
    assert clip("abcd", 4) == "abcd"
    assert clip("abcde", 4) == "abc…"
    assert len(clip("x" * 10_000, 256)) == 256


def test_bounded_device_clips_address_and_user_agent() -> None:
    ip, agent = bounded_device("f" * 1000, "TV " * 1_000_000)
    assert len(ip) == ADDRESS_CHARS and agent is not None and len(agent) == USER_AGENT_CHARS
    assert agent.startswith("TV TV ") and agent.endswith("…")
    assert bounded_device("192.0.2.1", None) == ("192.0.2.1", None)
    assert bounded_device("2001:db8::1%eth0", "curl/8.5.0") == ("2001:db8::1%eth0", "curl/8.5.0")
