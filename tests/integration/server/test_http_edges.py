"""The HTTP layer at its edges, in process: bodies past the cap, clients that leave mid-body.

These drive the ASGI app with a hand-written ``receive`` channel, so a test can count how much of
a body the server pulled in, and hang up halfway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from deviceflow.server.endpoints._http import MAX_FORM_BYTES
from tests.support.app_harness import Harness

pytestmark = pytest.mark.anyio

CHUNK = 16 * 1024


class Upload:
    """A request body sent in ``CHUNK``-byte pieces; optionally the client hangs up after
    ``hang_up_after`` pieces. Counts what the app pulled."""

    def __init__(self, chunks: int, *, hang_up_after: int | None = None) -> None:
        self.chunks = chunks
        self.hang_up_after = hang_up_after
        self.pulled = 0

    async def receive(self) -> dict[str, Any]:
        if self.hang_up_after is not None and self.pulled >= self.hang_up_after:
            return {"type": "http.disconnect"}
        self.pulled += 1
        more = self.pulled < self.chunks
        return {"type": "http.request", "body": b"a" * CHUNK, "more_body": more}


async def call(
    harness: Harness,
    path: str,
    receive: Callable[[], Awaitable[dict[str, Any]]],
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> list[dict[str, Any]]:
    """One request through the whole app; returns what it sent."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers
        or [(b"host", b"testserver"), (b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await harness.app(scope, receive, send)
    return sent


def status_of(sent: list[dict[str, Any]]) -> int | None:
    starts = [m for m in sent if m["type"] == "http.response.start"]
    return int(starts[0]["status"]) if starts else None


PAGE_FORMS = ["/devicelogin", "/devicelogin/signin", "/devicelogin/decide", "/presence/signin"]


@pytest.mark.parametrize("path", PAGE_FORMS)
async def test_page_post_stops_reading_at_the_cap(server: Harness, path: str) -> None:
    # 16 MiB offered in 16 KiB pieces: the page must stop pulling just past 64 KiB.
    upload = Upload(1024)
    sent = await call(server, path, upload.receive)
    assert status_of(sent) == 413
    assert upload.pulled * CHUNK <= MAX_FORM_BYTES + CHUNK


async def test_page_post_with_a_large_content_length_is_refused_unread(server: Harness) -> None:
    upload = Upload(1024)
    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(256 * 1024 * 1024).encode()),
    ]
    sent = await call(server, "/devicelogin", upload.receive, headers=headers)
    assert status_of(sent) == 413
    assert upload.pulled == 0


@pytest.mark.parametrize(
    "path", [*PAGE_FORMS, "/contoso/oauth2/v2.0/token", "/contoso/oauth2/v2.0/devicecode"]
)
async def test_client_gone_mid_body_is_a_disconnect_not_a_500(
    server: Harness, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="deviceflow")
    upload = Upload(4, hang_up_after=2)
    sent = await call(server, path, upload.receive)  # raised before the fix
    assert status_of(sent) in (None, 499)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    gone = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.DEBUG
