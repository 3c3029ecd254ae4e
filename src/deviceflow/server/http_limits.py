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
TICK = 1.0
"""How often a connection's deadline is checked: timeouts fire up to this much late."""


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
    tick = TICK

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = "head"  # "head" -> "body" -> "done" (app answering, or idle)
        self._head_bytes = 0
        self._header_count = 0
        self._refused = False
        self._deadline = 0.0  # loop time by which the current phase must end; 0: none
        self._watch: asyncio.TimerHandle | None = None

    # -- the deadline ---------------------------------------------------------------------------
    # A request sets and clears a number; one watchdog per connection, every `tick` seconds,
    # compares it with the clock. (A timer armed and cancelled per request would cost about
    # 5 microseconds each, a tenth of a pending poll.)

    def _check(self) -> None:
        self._watch = None
        if self._refused or self.transport.is_closing():
            return
        if self._deadline and self.loop.time() >= self._deadline:
            self._deadline = 0.0
            self._timed_out()
            return
        self._watch = self.loop.call_later(self.tick, self._check)

    def _timed_out(self) -> None:
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
        self._deadline = 0.0
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
        self._deadline = self.loop.time() + self.head_timeout
        self._watch = self.loop.call_later(self.tick, self._check)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        super().connection_lost(exc)

    def eof_received(self) -> None:
        if self._refused:  # the client read the refusal and hung up: done lingering
            self.transport.close()
        super().eof_received()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # draining: the refusal is on its way
        super().data_received(data)
        if self._phase == "body" and not self._deadline:
            self._deadline = self.loop.time() + self.body_timeout

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = "head"
        self._head_bytes = 0
        self._header_count = 0
        if not self._deadline:
            self._deadline = self.loop.time() + self.head_timeout

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
        self._deadline = 0.0
        self._phase = "body"
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._deadline = 0.0
        self._phase = "done"
        super().on_message_complete()


def protocol_options() -> dict[str, object]:
    """The uvicorn options that apply these limits (the protocol, and the h11 fallback's cap)."""
    return {"http": LimitedHttpToolsProtocol, "h11_max_incomplete_event_size": MAX_HEAD_BYTES}
