"""Small HTTP helpers shared by the endpoints: form parsing, client address, JSON responses.

The token endpoint is the hot path (devices poll it every few seconds), so it does not go through a
framework's form machinery: the body is read straight from the ASGI ``receive`` channel and parsed
here. RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once", so a
repeated parameter is an ``invalid_request`` rather than a silent first-or-last pick.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_FORM_BYTES = 64 * 1024
"""Form bodies larger than this are refused; no legitimate device or page request comes close."""

NO_STORE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
)
_JSON_TYPE = (b"content-type", b"application/json; charset=utf-8")


_KNOWN_ESCAPED = {
    "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code": (
        "urn:ietf:params:oauth:grant-type:device_code"
    ),
}
"""Escaped values every poll carries, decoded once (``grant_type``, as clients encode it)."""


class FormError(ValueError):
    """A request body that is not a well-formed ``application/x-www-form-urlencoded`` form."""


class BodyTooLargeError(FormError):
    """A request body (declared or sent) longer than :data:`MAX_FORM_BYTES`."""


def parse_form(body: bytes) -> dict[str, str]:
    """Parse an urlencoded form body.

    Args:
        body: The raw request body.

    Returns:
        The parameters; empty values are kept (they count as "present but empty").

    Raises:
        FormError: The body is not UTF-8, a parameter is repeated, or the body is too large.
    """
    if len(body) > MAX_FORM_BYTES:
        raise FormError("request body too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormError("request body is not UTF-8") from exc
    # ``urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict")`` pair by pair,
    # without its per-call overhead: this runs on every poll. Only escaped parts are unquoted.
    form: dict[str, str] = {}
    repeated: str | None = None  # the first name seen twice, in the body's order
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        try:
            if "+" in name or "%" in name:
                name = unquote(name.replace("+", " "), errors="strict")
            if "+" in value or "%" in value:
                value = _KNOWN_ESCAPED.get(value) or unquote(
                    value.replace("+", " "), errors="strict"
                )
        except UnicodeDecodeError as exc:
            raise FormError("request body is not UTF-8") from exc
        if repeated is None and name in form:
            repeated = name
        form[name] = value
    if repeated is not None:  # after the whole body: an undecodable part is named first
        raise FormError(f"parameter {repeated!r} included more than once")
    return form


async def read_body(
    receive: Receive, scope: Scope | None = None, *, first: Message | None = None
) -> bytes:
    """Read the request body from an ASGI ``receive`` channel, never more than the cap.

    With ``scope``, a ``Content-Length`` above the cap is refused before anything is read.
    ``first``: the first message, when the caller has received it already (the token endpoint
    takes a body that came whole in it without calling this: :func:`whole_body`).

    Raises:
        BodyTooLargeError: The body is (or is declared) larger than :data:`MAX_FORM_BYTES`;
            reading stops there.
        ClientDisconnect: The client went away before the body was complete.
    """
    if scope is not None:
        declared = header(scope, b"content-length") or ""
        if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
            raise BodyTooLargeError("request body too large")
    message = first if first is not None else await receive()
    if message["type"] != "http.request":
        raise ClientDisconnect()
    chunk = message.get("body", b"")
    if not message.get("more_body", False):  # the whole body in one message: most requests
        if len(chunk) > MAX_FORM_BYTES:
            raise BodyTooLargeError("request body too large")
        return chunk if type(chunk) is bytes else bytes(chunk)
    chunks: list[bytes] = [chunk]
    size = len(chunk)
    if size > MAX_FORM_BYTES:
        raise BodyTooLargeError("request body too large")
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise BodyTooLargeError("request body too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def whole_body(message: Message) -> bytes | None:
    """The body of a first ``receive`` message that holds all of it, within the cap; else
    None (then :func:`read_body` takes it from there, with ``first=message``)."""
    body = message.get("body", b"")
    if (
        message["type"] == "http.request"
        and not message.get("more_body", False)
        and type(body) is bytes
        and len(body) <= MAX_FORM_BYTES
    ):
        return body
    return None


logger = logging.getLogger("deviceflow.server")
access_logger = logging.getLogger("deviceflow.server.access")

POLL_ANSWER = "deviceflow.poll_answer"
"""The ASGI scope key under which the token endpoint notes a routine poll answer (counted, not
logged, by ``_access.PollTally``): ``(tenant id, client id, index in _access.ANSWERS)``."""


class AccessLog:
    """One INFO line per request while ``deviceflow.server.access`` logs at INFO: method, path
    (never the query: it may hold a code), status. (Token requests on the hot path are logged,
    or counted, there: ``_hotpath``.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not access_logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except ClientDisconnect:
            status = CLIENT_CLOSED
            raise
        finally:
            access_logger.info("%s %s %d", scope["method"], scope["path"], status)


CLIENT_CLOSED = 499
"""The access log's status for a request whose client left before it was read (nginx's 499)."""


class QuietDisconnect:
    """End a request quietly when its client hung up before sending the whole body.

    The body readers raise :class:`ClientDisconnect`; without this layer it would end as a 500
    and two tracebacks (the error handler's and the ASGI server's) for what is only a closed
    connection. Nothing is sent: there is nobody to send it to.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            logger.debug(
                "client disconnected before its request was read: %s %s",
                scope.get("method"),
                scope.get("path"),
            )


class RefuseUndecodableQuery:
    """Answer 400 to a query string that is not UTF-8, before any handler parses it.

    Starlette decodes the query string as UTF-8 when it builds a request's URL, including in
    its error handlers, so such a request would otherwise end as a bare 500 (found by the
    hardening fuzzer: ``GET /devicelogin?\x80``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                bytes(scope.get("query_string", b"")).decode("utf-8")
            except UnicodeDecodeError:
                body = {"error": "invalid_request", "error_description": "query is not UTF-8"}
                await send_json(send, 400, body)
                return
        await self.app(scope, receive, send)


HEADERS = "deviceflow.headers"
"""The ASGI scope key under which :func:`headers_of` keeps the request's headers by name."""


def headers_of(scope: Scope) -> Mapping[bytes, bytes]:
    """The request's headers by (lower-case) name, the first value of each, as raw bytes.

    Built once per request and kept in the scope: the token hot path reads ``X-Request-Id``,
    then the endpoint four more, and a client such as MSAL sends more than a dozen headers, which
    a scan per header read would walk each time (the dictionary is built in C).
    """
    found: dict[bytes, bytes] | None = scope.get(HEADERS)
    if found is None:
        headers = scope["headers"]
        try:
            found = dict(reversed(headers))  # the first value wins
        except TypeError:  # not a sequence, or a name that is not bytes: the slow way
            found = {}
            for key, value in headers:
                found.setdefault(bytes(key), value)
        scope[HEADERS] = found
    return found


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header ``name`` (lower-case bytes), decoded as Latin-1."""
    value = headers_of(scope).get(name)
    return None if value is None else bytes(value).decode("latin-1")


def client_ip(scope: Scope) -> str:
    """The client address: the peer, or whom a trusted proxy forwarded for (``proxies``)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def is_form(content_type: bytes | None) -> bool:
    """Whether ``content_type`` (a request's raw ``Content-Type``) declares an urlencoded form
    body (parameters may follow ``;``)."""
    if content_type == _FORM:  # as nearly every client spells it
        return True
    return bytes(content_type or b"").split(b";", 1)[0].strip().lower() == _FORM


_FORM = b"application/x-www-form-urlencoded"


async def send_json(
    send: Send,
    status: int,
    payload: Mapping[str, Any] | None,
    *,
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Send a JSON (empty when ``payload`` is None) response with ``Cache-Control: no-store``."""
    body = b"" if payload is None else encode_json(payload)
    headers = [*NO_STORE_HEADERS, *extra_headers, (b"content-length", str(len(body)).encode())]
    if payload is not None:
        headers.append(_JSON_TYPE)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def encode_json(payload: Mapping[str, Any]) -> bytes:
    """The compact JSON bytes :func:`send_json` sends for ``payload``."""
    return json.dumps(payload, separators=(",", ":")).encode()


def json_headers(body: bytes) -> tuple[tuple[bytes, bytes], ...]:
    """The headers :func:`send_json` sends with a JSON ``body`` (no extra headers), as a tuple:
    an error answer encoded once sends the same one each time (ASGI takes any iterable)."""
    return (*NO_STORE_HEADERS, (b"content-length", b"%d" % len(body)), _JSON_TYPE)
