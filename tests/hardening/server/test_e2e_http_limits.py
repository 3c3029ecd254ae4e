"""Resource limits of the HTTP layer over real sockets, measured (issue 12): a 256 MiB page POST
leaves the server's memory flat, on SQLite and on PostgreSQL.

The body is sent chunked (no ``Content-Length`` to refuse up front), so the server must read it
and stop at the 64 KiB form cap; its peak resident memory (``VmHWM``, reset just before through
``/proc/PID/clear_refs``) is read from ``/proc``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening import figures
from tests.hardening.server.conftest import LogTally
from tests.hardening.server.test_e2e_crashes import database
from tests.support.config import write_config
from tests.support.serverproc import ServerProcess, e2e_config

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("hardening-http-limits")]

MIB = 1024 * 1024


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, log_tally: LogTally
) -> Iterator[ServerProcess]:
    folder: Path = tmp_path_factory.mktemp("http-limits")
    with database(request.param, folder) as url:
        proc = ServerProcess(folder=folder, config=write_config(folder, e2e_config()), db_url=url)
        proc.start()
        try:
            yield proc
        finally:
            assert proc.stop() == 0
            assert not proc.tracebacks(), proc.tracebacks()
            log_tally.lines += proc.log_lines()


def test_a_256_mib_page_post_leaves_memory_flat(server: ServerProcess) -> None:
    # Warm the page path first, so the baseline includes what any request loads.
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as warm:
        warm.sendall(b"GET /devicelogin HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        while warm.recv(65536):
            pass
    # Reset the peak (VmHWM) to the current size: start-up hashed passwords with 64 MiB each.
    server.reset_peak_memory()
    before = server.memory_kib("VmRSS")
    chunk = b"a" * MIB
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(
            b"POST /devicelogin HTTP/1.1\r\nhost: x\r\n"
            b"content-type: application/x-www-form-urlencoded\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        try:
            while sent < 256 * MIB:
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body went out
        try:
            answer = s.recv(65536)
        except ConnectionResetError:
            answer = b""
    peak = server.memory_kib("VmHWM")
    grown_mib = max(0, peak - before) / 1024
    assert grown_mib < 32, f"peak memory grew by {grown_mib:.0f} MiB"  # was ~510 MiB
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 "), answer[:100]
    backend = "PostgreSQL" if server.db_url.startswith("postgresql") else "SQLite"
    figures.record(
        "Resource limits",
        f"256 MiB page POST (chunked), one server process, {backend}",
        body_mib=sent // MIB,
        rss_before_mib=round(before / 1024),
        peak_growth_mib=round(grown_mib, 1),
        answer=answer[9:12].decode() or "closed",
    )
