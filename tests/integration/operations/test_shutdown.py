"""Clean shutdown: SIGTERM stops listening, finishes the request in flight, closes storage.

A real ``deviceflow serve`` subprocess. The request in flight is one whose body is still on its
way when the signal arrives: its client sends the rest only once the server has stopped taking
new connections, and still gets its whole answer.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.e2e.server.flows import start_flow
from tests.support.serverproc import CLIENT_ID, DEVICE_GRANT, ServerProcess, e2e_server

pytestmark = pytest.mark.e2e


def refuses_connections(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


def read_response(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def stderr_of(server: ServerProcess) -> str:
    return "".join(p.read_text() for p in server.log_files() if p.name.endswith("stderr.log"))


def test_sigterm_finishes_the_request_in_flight_and_closes_storage(tmp_path: Path) -> None:
    server = e2e_server(tmp_path)
    server.start()
    process = server.process
    assert process is not None
    try:
        flow = start_flow(server)
        form = {"grant_type": DEVICE_GRANT, "device_code": flow["device_code"]}
        body = urlencode({**form, "client_id": CLIENT_ID}).encode()
        head = (
            f"POST /contoso/oauth2/v2.0/token HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head + body[:10])
            time.sleep(0.3)  # the server has read the head: the request is in flight
            process.send_signal(signal.SIGTERM)
            assert refuses_connections(server.port), "still accepting after SIGTERM"
            sock.sendall(body[10:])
            answer = read_response(sock)
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 400 Bad Request", answer[:200]
        payload = json.loads(rest.partition(b"\r\n\r\n")[2])
        assert payload["error"] == "authorization_pending"
        assert process.wait(15) == 0
    finally:
        server.stop()
    log = stderr_of(server)
    assert "storage closed" in log
    assert "Traceback" not in log
    assert server.leaked() == []
