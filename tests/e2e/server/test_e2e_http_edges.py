"""The HTTP edges over real sockets: head limits, read timeouts, hang-ups, forwarded headers and
log injection (issue 12).

``deviceflow serve`` itself (a subprocess on 127.0.0.1) answers the tests that need only its
defaults. The read timeouts are 15 and 30 seconds there, so those tests run the same uvicorn
options ``serve`` uses (:func:`deviceflow.server.serving.uvicorn_options`) in a thread, with the
protocol's timeouts shortened to a fraction of a second.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deviceflow.server.serving import uvicorn_options
from tests.support.config import write_config
from tests.support.serverproc import CLIENT_ID, ServerProcess, e2e_config
from tests.support.threaded import serve_in_thread

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-http-edges")]

PROXY = "127.0.0.2"  # a second loopback address, named in trusted_proxies


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("http-edges")
    proc = ServerProcess(folder=folder, config=write_config(folder, e2e_config()))
    proc.start()
    try:
        yield proc
    finally:
        assert proc.stop() == 0
        logs = "\n".join(p.read_text(errors="replace") for p in proc.log_files())
        assert "Traceback" not in logs


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("http-edges-proxied")
    config = write_config(folder, e2e_config())
    config.write_text(f'trusted_proxies = ["{PROXY}"]\n' + config.read_text())
    proc = ServerProcess(folder=folder, config=config)
    proc.start()
    try:
        yield proc
    finally:
        assert proc.stop() == 0


def exchange(port: int, data: bytes, *, source: str = "127.0.0.1", wait: float = 20) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(
        ("127.0.0.1", port), timeout=wait, source_address=(source, 0)
    ) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before everything was sent: read what came back
        return read_to_close(s)


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; raises TimeoutError if it never does."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def status(response: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", response)
    assert match, response[:200]
    return int(match.group(1))


def server_log(server: ServerProcess) -> list[str]:
    return [
        line for p in server.log_files() if "stderr" in p.name
        for line in p.read_text(errors="replace").splitlines()
    ]  # fmt: skip


# -- head size --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(b"x-big: " + b"a" * 40_000 + b"\r\n", 431, id="one-40KiB-header"),
        pytest.param(b"".join(b"x-h%d: 1\r\n" % i for i in range(150)), 431, id="150-headers"),
        pytest.param(b"x-fine: " + b"a" * 8000 + b"\r\n", 404, id="8KiB-header-is-fine"),
    ],
)
def test_request_head_over_the_limit_is_refused(
    server: ServerProcess, head: bytes, expected: int
) -> None:
    request = b"GET /nowhere HTTP/1.1\r\nhost: x\r\n" + head + b"\r\n"
    assert status(exchange(server.port, request)) == expected


def test_a_32_mib_header_is_cut_off(server: ServerProcess) -> None:
    head = b"GET /nowhere HTTP/1.1\r\nhost: x\r\nx-huge: " + b"a" * (32 * 1024 * 1024)
    answer = exchange(server.port, head + b"\r\n\r\n")
    # Accepted whole before the limit (answered 404); now refused, possibly mid-send.
    assert answer == b"" or status(answer) == 431


def test_page_post_declaring_256_mib_is_refused_unread(server: ServerProcess) -> None:
    head = (
        b"POST /devicelogin HTTP/1.1\r\nhost: x\r\naccept: text/html\r\n"
        b"content-type: application/x-www-form-urlencoded\r\n"
        b"content-length: 268435456\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(head + b"code=" + b"a" * 1000)
        answer = s.recv(65536)
    assert status(answer) == 413


# -- hang-ups and forwarded headers -------------------------------------------------------------


def test_client_gone_mid_body_logs_no_traceback(server: ServerProcess) -> None:
    for path in ("/devicelogin", "/contoso/oauth2/v2.0/token"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
            s.sendall(
                f"POST {path} HTTP/1.1\r\nhost: x\r\n"
                "content-type: application/x-www-form-urlencoded\r\n"
                "content-length: 1000\r\n\r\ncode=AB".encode()
            )
    # The server answers a later request normally; its log shows 499s, no 500, no traceback.
    assert httpx.get(f"{server.base_url}/devicelogin").status_code == 200
    access = [line for line in server_log(server) if "deviceflow.server.access" in line]
    assert any(line.endswith("POST /devicelogin 499") for line in access), access
    assert not any(line.endswith(" 500") for line in access)
    assert not any("Traceback" in line or "ERROR" in line for line in server_log(server))


def device_ip(server: ServerProcess, *, source: str, forwarded: str | None) -> str:
    """Start a flow from ``source`` with ``X-Forwarded-For: forwarded``; the address the
    server recorded for the device (its ``device_code_issued`` audit event)."""
    headers = {"x-forwarded-for": forwarded} if forwarded is not None else {}
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport) as client:
        answer = client.post(
            f"{server.base_url}/contoso/oauth2/v2.0/devicecode",
            data={"client_id": CLIENT_ID, "scope": "openid"},
            headers=headers,
        )
    assert answer.status_code == 200, answer.text
    events = [
        json.loads(line.split(" device_code_issued ", 1)[1])
        for line in server_log(server)
        if " device_code_issued " in line
    ]
    return str(events[-1]["ip"])


def test_forwarded_for_from_loopback_is_ignored_by_default(server: ServerProcess) -> None:
    assert device_ip(server, source="127.0.0.1", forwarded="203.0.113.9") == "127.0.0.1"
    assert device_ip(server, source=PROXY, forwarded="203.0.113.9") == PROXY


@pytest.mark.parametrize(
    ("source", "forwarded", "expected"),
    [
        pytest.param(PROXY, "203.0.113.9", "203.0.113.9", id="trusted-proxy"),
        pytest.param(PROXY, "198.51.100.7, 127.0.0.2", "198.51.100.7", id="chain"),
        pytest.param(PROXY, "not-an-address", PROXY, id="garbage-ignored"),
        pytest.param("127.0.0.1", "203.0.113.9", "127.0.0.1", id="untrusted-peer"),
    ],
)
def test_forwarded_for_from_a_named_proxy(
    proxied: ServerProcess, source: str, forwarded: str, expected: str
) -> None:
    assert device_ip(proxied, source=source, forwarded=forwarded) == expected


# -- log injection ----------------------------------------------------------------------------

FORGED = '2026-01-01 00:00:00,000 INFO deviceflow.audit: sign_in {"user": "forged"}'


def test_a_newline_in_the_url_cannot_forge_a_log_line(server: ServerProcess) -> None:
    path = "/x%0a" + FORGED.replace(" ", "%20").replace('"', "%22") + "%0d%1b[2J"
    assert httpx.get(f"{server.base_url}{path}").status_code == 404
    lines = server_log(server)
    assert not [line for line in lines if line.startswith(FORGED[:30])]
    injected = [line for line in lines if "forged" in line]
    assert len(injected) == 1 and "\\n2026-01-01" in injected[0] and "\x1b" not in injected[0]
    # Every line is a record of its own (a timestamp) or an indented continuation.
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
    assert all(stamp.match(line) or line.startswith((" ", "!!")) for line in lines), lines


# -- read timeouts (serve's uvicorn options, shortened) ----------------------------------------


@pytest.fixture(scope="module")
def quick() -> Iterator[int]:
    """serve's uvicorn options in a thread, the protocol's timeouts cut to 0.3 s; its port."""
    from deviceflow.server.app import create_app
    from deviceflow.server.storage import open_storage
    from tests.support.app_harness import harness_settings

    options: dict[str, Any] = uvicorn_options()
    protocol = options["http"]
    if isinstance(protocol, type):  # serve's own protocol, with the limits shortened
        options["http"] = type(
            "QuickProtocol",
            (protocol,),
            {"head_timeout": 0.3, "body_timeout": 0.3, "linger": 0.2, "tick": 0.05},
        )
    storage = open_storage("memory:")
    app = create_app(harness_settings(), storage=storage, clock=time.time, rng=secrets.token_bytes)
    try:
        with serve_in_thread(app, options) as port:
            yield port
    finally:
        storage.close()


def test_an_idle_connection_is_closed(quick: int) -> None:
    with socket.create_connection(("127.0.0.1", quick), timeout=5) as s:
        assert read_to_close(s) == b""  # TimeoutError before the fix: it stayed open


def test_a_half_sent_head_times_out(quick: int) -> None:
    with socket.create_connection(("127.0.0.1", quick), timeout=5) as s:
        s.sendall(b"GET /devicelogin HTTP/1.1\r\nhost: x\r\nx-slow: 1")
        assert status(read_to_close(s)) == 408


def test_a_half_sent_body_times_out(quick: int) -> None:
    with socket.create_connection(("127.0.0.1", quick), timeout=5) as s:
        s.sendall(
            b"POST /contoso/oauth2/v2.0/token HTTP/1.1\r\nhost: x\r\n"
            b"content-type: application/x-www-form-urlencoded\r\n"
            b"content-length: 100\r\n\r\ngrant_type="
        )
        assert status(read_to_close(s)) == 408


def test_kept_alive_requests_are_not_cut(quick: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{quick}") as client:
        for _ in range(3):
            assert client.get("/devicelogin").status_code == 200
            time.sleep(0.2)  # idle between requests: uvicorn's keep-alive (5 s) applies


def test_serve_limits_are_documented() -> None:
    from deviceflow.server import http_limits

    docs = (Path(__file__).parents[3] / "docs" / "deployment.md").read_text()
    for value in (
        f"{http_limits.MAX_HEAD_BYTES // 1024} KiB",
        f"{http_limits.MAX_HEADERS} header fields",
        f"{int(http_limits.HEAD_TIMEOUT)} seconds",
        f"{int(http_limits.BODY_TIMEOUT)} seconds",
    ):
        assert value in docs, value
