"""The poll lane over real sockets: pending polls answered inside the HTTP protocol
(``deviceflow.server.poll_lane``) exactly as the ASGI path answers them.

The app is ``serve``'s, on ``serve``'s uvicorn options, in a thread, with a clock the tests
move. Which way a request went is seen through a spy around the app's ``answer_now`` (the real
method, counted): a request the lane answered called it and got an answer back.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from deviceflow.server.serving import uvicorn_options
from tests.support.app_harness import CLIENT_ID, DEVICE_GRANT, harness_settings
from tests.support.clock import FakeClock
from tests.support.threaded import serve_in_thread

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-poll-lane")]

RFC, MICROSOFT = "contoso", "fabrikam"  # the harness's tenants: RFC 8628 (slow_down), Entra


@dataclass
class Lane:
    """The running server: its port, clock, and what the lane answered."""

    port: int
    clock: FakeClock
    app: Any
    answered: list[int] = field(default_factory=list)
    """The status of each answer the lane gave (None answers are not listed)."""
    asked: list[str] = field(default_factory=list)
    """The path of each request the protocol offered the lane."""
    fail: bool = False
    """Make the lane raise (its requests must then go through ASGI)."""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start_flow(self, tenant: str) -> str:
        answer = httpx.post(
            self.url(f"/{tenant}/oauth2/v2.0/devicecode"),
            data={"client_id": CLIENT_ID, "scope": "openid"},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["device_code"])


@pytest.fixture(scope="module")
def lane() -> Iterator[Lane]:
    from deviceflow.server.app import create_app
    from deviceflow.server.storage import open_storage

    clock = FakeClock()
    storage = open_storage("memory:")
    app = create_app(harness_settings(), storage=storage, clock=clock, rng=secrets.token_bytes)
    state = Lane(0, clock, app)
    real = app.answer_now

    def spy(scope: Any, body: bytes) -> Any:
        state.asked.append(scope["path"])
        if state.fail:
            raise RuntimeError("the lane failed")
        answer = real(scope, body)
        if answer is not None:
            state.answered.append(answer[0])
        return answer

    app.answer_now = spy  # read by each new connection's protocol
    try:
        with serve_in_thread(app, uvicorn_options()) as state.port:
            yield state
    finally:
        storage.close()


def poll_request(
    tenant: str, code: str, *, extra: bytes = b"", query: str = "", form: str = ""
) -> bytes:
    body = f"grant_type={DEVICE_GRANT}&client_id={CLIENT_ID}&device_code={code}{form}"
    return form_request(tenant, body, extra=extra, query=query)


def form_request(tenant: str, form: str, *, extra: bytes = b"", query: str = "") -> bytes:
    body = form.encode()
    return (
        f"POST /{tenant}/oauth2/v2.0/token{query} HTTP/1.1\r\nhost: 127.0.0.1\r\n".encode()
        + extra
        + b"content-type: application/x-www-form-urlencoded\r\n"
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


def read_answers(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """``count`` responses (status, headers by lower-case name, body) read off ``sock``."""
    data, answers = b"", []
    while len(answers) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            lines = data[:head_end].decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            headers = {name.lower(): value for name, value in headers.items()}
            end = head_end + 4 + int(headers["content-length"])
            if len(data) >= end:
                answers.append((int(lines[0].split()[1]), headers, data[head_end + 4 : end]))
                data = data[end:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed after {len(answers)} answers: {data!r}")
        data += chunk
    return answers


def exchange(lane: Lane, *requests: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``requests`` on one connection, one at a time; their answers."""
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        answers = []
        for request in requests:
            sock.sendall(request)
            answers += read_answers(sock, 1)
        return answers


def trusted_flow(lane: Lane, tenant: str) -> str:
    """A pending flow the server trusts from memory: started, polled once (the poll that goes
    to storage), and the clock moved past the interval so the next poll is on time."""
    code = lane.start_flow(tenant)
    [(status, _, body)] = exchange(lane, poll_request(tenant, code))
    assert (status, json.loads(body)["error"]) == (400, "authorization_pending")
    lane.clock.advance(6)
    return code


def counted(lane: Lane, run: Callable[[], Any]) -> tuple[Any, int, int]:
    """What ``run`` gave, and how many requests the lane was offered and answered meanwhile."""
    asked, answered = len(lane.asked), len(lane.answered)
    result = run()
    return result, len(lane.asked) - asked, len(lane.answered) - answered


def same_answer(lane_answer: tuple[int, dict[str, str], bytes], asgi_answer: Any) -> None:
    """The two answers agree but for what differs per request (date, request and trace ids)."""
    (status, headers, body), (status2, headers2, body2) = lane_answer, asgi_answer
    assert status == status2
    assert headers.keys() == headers2.keys()
    per_request = {"date", "x-request-id", "content-length"}
    assert {k: v for k, v in headers.items() if k not in per_request} == {
        k: v for k, v in headers2.items() if k not in per_request
    }
    assert general(body) == general(body2)


def general(body: bytes) -> dict[str, Any]:
    """A JSON answer with its per-request values (Entra's ids and time, also quoted in its
    description) replaced by their names."""
    text = body.decode()
    for name, value in json.loads(body).items():
        if name in ("trace_id", "correlation_id", "timestamp"):
            text = text.replace(value, name)
    return dict(json.loads(text))


@pytest.mark.parametrize("tenant", [RFC, MICROSOFT])
def test_a_trusted_pending_poll_is_answered_in_the_lane_as_asgi_answers_it(
    lane: Lane, tenant: str
) -> None:
    code = trusted_flow(lane, tenant)
    [answer], asked, answered = counted(lane, lambda: exchange(lane, poll_request(tenant, code)))
    assert (asked, answered) == (1, 1)
    assert answer[0] == 400 and json.loads(answer[2])["error"] == "authorization_pending"
    assert answer[1]["x-request-id"]
    lane.clock.advance(6)
    # A query string sends the same poll the ASGI way (the lane takes plain paths only).
    [asgi], _, answered = counted(
        lane, lambda: exchange(lane, poll_request(tenant, code, query="?via=asgi"))
    )
    assert answered == 0
    same_answer(answer, asgi)


def test_the_lane_answers_a_storm_with_slow_down_as_asgi_does(lane: Lane) -> None:
    code = trusted_flow(lane, RFC)
    storm = [poll_request(RFC, code)] * 3  # back to back: on time, then two early ones
    answers, _, answered = counted(lane, lambda: exchange(lane, *storm))
    assert [json.loads(body)["error"] for _, _, body in answers] == [
        "authorization_pending",
        "slow_down",
        "slow_down",
    ]
    assert answered == 3
    # The ASGI path goes on from the interval the lane raised (5 s, +5 per slow_down).
    [asgi] = exchange(lane, poll_request(RFC, code, query="?via=asgi"))
    descriptions = [json.loads(body)["error_description"] for _, _, body in [*answers, asgi]]
    assert descriptions[1:] == [f"poll at most every {s} seconds" for s in (10, 15, 20)]
    assert answers[2][1].keys() == asgi[1].keys()


def test_pipelined_polls_are_answered_in_order(lane: Lane) -> None:
    codes = [trusted_flow(lane, MICROSOFT) for _ in range(3)]
    ids = [b"pipelined-%d" % n for n in range(3)]
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        requests = [
            poll_request(MICROSOFT, code, extra=b"x-request-id: " + rid + b"\r\n")
            for code, rid in zip(codes, ids, strict=True)
        ]
        (answers), asked, answered = counted(
            lane, lambda: (sock.sendall(b"".join(requests)), read_answers(sock, 3))[1]
        )
    assert [headers["x-request-id"].encode() for _, headers, _ in answers] == ids
    assert {status for status, _, _ in answers} == {400}
    assert answered == 3


def test_a_body_that_arrives_later_goes_through_asgi(lane: Lane) -> None:
    code = trusted_flow(lane, RFC)
    request = poll_request(RFC, code)
    head, body = request.split(b"\r\n\r\n", 1)

    def slow() -> list[tuple[int, dict[str, str], bytes]]:
        with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
            sock.sendall(head + b"\r\n\r\n")
            time.sleep(0.2)  # the head is read alone: its body is not there yet
            sock.sendall(body)
            return read_answers(sock, 1)

    [(status, _, answer)], asked, answered = counted(lane, slow)
    assert (status, json.loads(answer)["error"]) == (400, "authorization_pending")
    assert (asked, answered) == (0, 0)


def test_a_pipelined_poll_whose_body_follows_later_goes_through_asgi(lane: Lane) -> None:
    first, second = (poll_request(RFC, trusted_flow(lane, RFC)) for _ in range(2))
    head, body = second.split(b"\r\n\r\n", 1)

    def pipelined() -> list[tuple[int, dict[str, str], bytes]]:
        with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
            sock.sendall(first + head + b"\r\n\r\n")  # the second's head waits behind the first
            answers = read_answers(sock, 1)
            time.sleep(0.2)
            sock.sendall(body)
            return answers + read_answers(sock, 1)

    answers, asked, answered = counted(lane, pipelined)
    assert [json.loads(body)["error"] for _, _, body in answers] == ["authorization_pending"] * 2
    assert (asked, answered) == (1, 1)  # the first in the lane, the second through ASGI


def test_requests_the_lane_leaves_alone(lane: Lane) -> None:
    code = trusted_flow(lane, RFC)
    # Connection: close, and Expect: 100-continue, are never offered to the lane.
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        (_, asked, _) = counted(
            lane,
            lambda: (
                sock.sendall(poll_request(RFC, code, extra=b"connection: close\r\n")),
                read_answers(sock, 1),
            ),
        )
        assert asked == 0
        assert sock.recv(1) == b""  # and the connection closed after the answer
    lane.clock.advance(6)
    # A secret, an assertion, a claims challenge, Basic credentials, an unknown code, a body
    # that is not a form: offered, and left to ASGI.
    odd = [
        poll_request(RFC, code, form="&client_secret=x"),
        poll_request(RFC, code, form="&client_assertion=x"),
        poll_request(RFC, code, form="&claims=%7B%7D"),
        poll_request(RFC, code, extra=b"authorization: Basic ZGVzay1sYW1wOng=\r\n"),
        poll_request(RFC, "unknown-code"),
        poll_request(RFC, code).replace(b"x-www-form-urlencoded", b"json"),
        poll_request(RFC, code, form="&scope=%FF"),  # not UTF-8
        poll_request(RFC, code, form=f"&client_id={CLIENT_ID}"),  # a repeated parameter
        form_request(RFC, f"grant_type={DEVICE_GRANT}&client_id={CLIENT_ID}"),  # no code
        form_request(RFC, f"grant_type=refresh_token&client_id={CLIENT_ID}&refresh_token=x"),
        poll_request(MICROSOFT, code, form="&code=another"),  # two device codes that differ
    ]
    answers, asked, answered = counted(lane, lambda: exchange(lane, *odd))
    assert (asked, answered) == (len(odd), 0)
    assert json.loads(answers[4][2])["error"] == "invalid_grant"
    assert {status for status, _, _ in answers} <= {400, 401}


def test_a_failing_lane_hands_the_request_to_asgi(lane: Lane) -> None:
    code = trusted_flow(lane, MICROSOFT)
    lane.fail = True
    try:
        [(status, _, body)], asked, answered = counted(
            lane, lambda: exchange(lane, poll_request(MICROSOFT, code))
        )
    finally:
        lane.fail = False
    assert (status, json.loads(body)["error"]) == (400, "authorization_pending")
    assert (asked, answered) == (1, 0)


def test_lane_answers_are_in_the_access_log(lane: Lane, caplog: pytest.LogCaptureFixture) -> None:
    code = trusted_flow(lane, RFC)
    with caplog.at_level(logging.DEBUG, logger="deviceflow.server.access"):
        _, _, answered = counted(lane, lambda: exchange(lane, poll_request(RFC, code)))
    assert answered == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "deviceflow.server.access"]
    assert f"POST /{RFC}/oauth2/v2.0/token 400" in lines
