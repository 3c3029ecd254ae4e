"""``--debug``: print every HTTP exchange to stderr with the secrets blotted out.

Redacted: the ``Authorization`` and ``Cookie``/``Set-Cookie`` headers; in form and JSON bodies
the values of ``access_token``, ``refresh_token``, ``id_token``, ``device_code``, ``user_code``,
``code``, ``token``, ``client_secret``, ``password`` and ``client_assertion``; and the
``user_code`` query parameter of URLs (``verification_uri_complete``).

Not redacted: error fields, which hold no secret and are what a person debugging needs. Graph's
error object names its error ``code`` (``{"error": {"code": "Authorization_RequestDenied"}}``),
so a ``code`` inside an ``error`` object stays; an authorization ``code`` anywhere else is hidden.
"""

from __future__ import annotations

import json
import re
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlencode

from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.errors import TransportError
from deviceflow.transports.base import Transport

__all__ = ["SECRET_FIELDS", "DebugTransport", "redact_body", "redact_headers", "redact_url"]

SECRET_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "device_code",
        "user_code",
        "code",
        "token",
        "client_secret",
        "client_assertion",
        "password",
        "verification_uri_complete",
    }
)
_SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie"})
_HIDDEN = "[redacted]"
_QUERY_CODE = re.compile(r"(?i)(user_code|code)=[^&#\s\"]*")


_USERINFO_PASSWORD = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@")


def redact_url(url: str) -> str:
    """``url`` with code-bearing query parameters and a userinfo password hidden."""
    url = _USERINFO_PASSWORD.sub(lambda m: f"{m.group(1)}:{_HIDDEN}@", url)
    return _QUERY_CODE.sub(lambda m: f"{m.group(1)}={_HIDDEN}", url)


def redact_headers(headers: tuple[tuple[str, str], ...]) -> list[str]:
    """``Name: value`` lines with secret headers hidden."""
    return [
        f"{name}: {_HIDDEN if name.lower() in _SECRET_HEADERS else value}"
        for name, value in headers
    ]


#: Objects whose ``code`` is an error code, not a secret (Graph's OData error and its inner one).
_ERROR_OBJECTS = frozenset({"error", "innererror"})


def _is_secret(key: str, value: Any, parent: str) -> bool:
    if value is None or key not in SECRET_FIELDS:
        return False
    return not (key == "code" and parent.lower() in _ERROR_OBJECTS)


def _redact_json(value: Any, parent: str = "") -> Any:
    if isinstance(value, dict):
        return {
            k: (_HIDDEN if _is_secret(k, v, parent) else _redact_json(v, k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(v, parent) for v in value]
    if isinstance(value, str):
        return redact_url(value)
    return value


def redact_body(body: bytes, content_type: str | None) -> str:
    """A printable, redacted rendering of an HTTP body (at most 2000 characters)."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace")
    kind = (content_type or "").lower()
    if "json" in kind or text.lstrip().startswith(("{", "[")):
        try:
            return json.dumps(_redact_json(json.loads(text)), sort_keys=True)[:2000]
        except ValueError:
            pass
    if "x-www-form-urlencoded" in kind:
        pairs = [(k, _HIDDEN if k in SECRET_FIELDS else v) for k, v in parse_qsl(text)]
        return urlencode(pairs, safe="[]:/ ")
    if "html" in kind:
        return f"({len(body)} bytes of HTML)"
    return redact_url(text[:2000])


class DebugTransport:
    """Wraps a transport and prints each exchange, redacted, to ``stream``."""

    def __init__(self, inner: Transport, stream: TextIO) -> None:
        self._inner = inner
        self._stream = stream

    def _print(self, prefix: str, lines: list[str]) -> None:
        for line in lines:
            print(f"{prefix} {line}", file=self._stream, flush=True)

    def handle_request(self, request: HttpRequest, *, timeout: float) -> HttpResponse:
        """Print the request, send it, print the response (or the failure).

        Raises:
            TransportError: whatever the inner transport raised.
        """
        out = [f"{request.method} {redact_url(request.url)}", *redact_headers(request.headers)]
        body = redact_body(request.body, request.header("Content-Type"))
        self._print(">", out + ([body] if body else []))
        try:
            response = self._inner.handle_request(request, timeout=timeout)
        except TransportError as exc:
            self._print("!", [f"{type(exc).__name__}: {exc}"])
            raise
        back = [f"HTTP {response.status}", *redact_headers(response.headers)]
        body = redact_body(response.body, response.header("Content-Type"))
        self._print("<", back + ([body] if body else []))
        return response

    def close(self) -> None:
        """Close the inner transport, if it can be closed."""
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()
