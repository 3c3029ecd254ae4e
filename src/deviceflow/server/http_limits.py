"""Limits on what one connection may send ``deviceflow serve``, and how slowly.

Theory of operation: uvicorn's ``httptools`` protocol (the fast parser ``serve`` uses) puts no
bound on a request's head and no deadline on a request that is still arriving: a 32 MiB header
was accepted whole, and a connection that opened and sent nothing, half a head, or half a body,
stayed open for ever (each one a file descriptor and, mid-body, a waiting request). Its
``timeout_keep_alive`` covers only the idle time *between* requests.
:class:`LimitedHttpToolsProtocol` adds, per connection:

- **Head size**: the request line and headers together may hold :data:`MAX_HEAD_BYTES`, in at
  most :data:`MAX_HEADERS` header fields. Past that the request is refused with ``431 Request
  Header Fields Too Large`` before it reaches the application, and nothing more of it is kept.
- **Head time**: a request's head must be complete :data:`HEAD_TIMEOUT` seconds after the
  connection opened (first request) or after its first byte arrived (later ones on a kept-alive
  connection); else ``408 Request Timeout`` (or a silent close if nothing at all was sent).
- **Body time**: a request's body must be complete :data:`BODY_TIMEOUT` seconds after its head;
  else ``408`` (when no answer has started) and the connection closes. The application then
  sees a disconnect (see ``endpoints._http.QuietDisconnect``). Bodies are small (forms of at
  most 64 KiB), so this is generous for slow links.

A refused connection stops being read and is closed once the refusal is sent (after a short
linger, so the client can read the status rather than a reset). Under the pure-Python ``h11``
fallback (no ``httptools``), only the head size holds (``h11_max_incomplete_event_size``).
"""

from __future__ import annotations

import asyncio
import http
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

MAX_HEAD_BYTES = 32 * 1024
"""Request line plus header names and values, in bytes (a browser sends 1 to 4 KiB)."""
MAX_HEADERS = 100
"""Header fields per request."""
HEAD_TIMEOUT = 15.0
"""Seconds from a connection's start (or a later request's first byte) to the end of the head."""
BODY_TIMEOUT = 30.0
"""Seconds from the end of a request's head to the end of its body."""
LINGER = 1.0
"""Seconds a refused connection keeps draining input so the client reads the refusal."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's ``httptools`` protocol with head size limits and read timeouts.

    The limits are class attributes (module constants by default), so a subclass can tighten
    them (the tests use sub-second timeouts).
    """

    max_head_bytes = MAX_HEAD_BYTES
    max_headers = MAX_HEADERS
    head_timeout = HEAD_TIMEOUT
    body_timeout = BODY_TIMEOUT
    linger = LINGER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = "head"  # "head" -> "body" -> "done" (app answering, or idle)
        self._head_bytes = 0
        self._header_count = 0
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None

    # -- timers -----------------------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self._refused or self.transport.is_closing():
            return
        if self._phase == "head":
            if self._head_bytes or self._header_count:
                self._refuse(http.HTTPStatus.REQUEST_TIMEOUT)
            else:  # an idle connection that never sent a byte: nothing to answer
                self.transport.close()
        elif self._phase == "body":
            if not self.cycle.response_started:
                self._refuse(http.HTTPStatus.REQUEST_TIMEOUT)
            else:
                self.transport.close()

    def _refuse(self, status: http.HTTPStatus) -> None:
        """Answer ``status`` (connection: close), stop reading, close after a short linger."""
        self._refused = True
        self._disarm()
        body = f"{status.phrase}\n".encode()
        head = [f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode()]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        cycle: RequestResponseCycle | None = self.cycle  # None until a first head is complete
        if cycle is not None and not cycle.response_complete:
            # The application (mid-body) must not answer after us: it now sees a disconnect.
            cycle.disconnected = True
            cycle.message_event.set()
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(self.linger, self.transport.close)
        else:
            self.transport.close()

    # -- connection and parser callbacks ------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def eof_received(self) -> None:
        if self._refused:  # the client read the refusal and hung up: done lingering
            self.transport.close()
        super().eof_received()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # draining: the refusal is on its way
        super().data_received(data)
        if self._phase == "body" and self._deadline is None and not self._refused:
            self._arm(self.body_timeout)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = "head"
        self._head_bytes = 0
        self._header_count = 0
        if self._deadline is None:
            self._arm(self.head_timeout)

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        self._head_bytes += len(url)
        if self._head_bytes > self.max_head_bytes:
            self._refuse(http.HTTPStatus.REQUEST_URI_TOO_LONG)
            return
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        self._head_bytes += len(name) + len(value)
        self._header_count += 1
        if self._head_bytes > self.max_head_bytes or self._header_count > self.max_headers:
            self._refuse(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        self._phase = "body"
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        self._phase = "done"
        super().on_message_complete()


def protocol_options() -> dict[str, object]:
    """The uvicorn options that apply these limits (the protocol, and the h11 fallback's cap)."""
    return {"http": LimitedHttpToolsProtocol, "h11_max_incomplete_event_size": MAX_HEAD_BYTES}
