"""Log lines that a request cannot forge: control characters escaped, tracebacks indented.

Access log lines, audit events and error messages carry strings a client chose (a path, a header,
a username). A ``%0a`` in a URL decodes to a newline, and a log line holding it would become two
lines, the second looking like any other record, an audit event for example; a ``\\x1b`` could
drive the terminal showing the log. :class:`SafeFormatter`, which ``deviceflow serve`` installs
on its log handler, writes every record on one line: control characters (C0, DEL, C1 and the
Unicode line and paragraph separators) become backslash escapes (``\\n``, ``\\x1b``,
``\\u2028``). A traceback, the one legitimate multi-line part, follows its record with every
line indented, so a line that starts at column 0 is always the start of a real record.

:class:`JsonFormatter` (``deviceflow serve --log-format json``) writes each record as one JSON
object on one line (JSON escapes every control character): ``time``, ``level``, ``logger``,
``event``, ``message``, ``request_id``, ``tenant``, ``client``, ``outcome``, and an audit
event's own fields under ``fields``. Audit events carry fingerprints, never codes or tokens
(:mod:`deviceflow.server.audit`); access lines carry the path, never the query.
"""

from __future__ import annotations

import json
import logging
import re
import time
from types import TracebackType
from typing import TextIO, TypeAlias

_ExcInfo: TypeAlias = (
    "tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]"
)

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTINUATION = "    "


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character written as a backslash escape."""
    return _CONTROL.sub(_escape_one, text)


def _indented(text: str) -> str:
    lines = text.split("\n")
    return "\n".join(_CONTINUATION + escape_controls(line) for line in lines)


class SafeFormatter(logging.Formatter):
    """A :class:`logging.Formatter` whose records are one line each (see the module docstring)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: _ExcInfo) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


_ACCESS_LOGGER = "deviceflow.server.access"


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        from deviceflow.server.endpoints._observe import current

        audit = getattr(record, "audit", None)
        fields = dict(audit) if isinstance(audit, dict) else {}
        event = str(fields.pop("event", "")) or None
        outcome: object = None
        if event is not None:
            outcome = fields.get("result", fields.get("refused"))
        elif record.name == _ACCESS_LOGGER and isinstance(record.args, tuple) and record.args:
            event, outcome = "http_request", record.args[-1]
        request = current()
        tenant = fields.get("tenant") or (request.tenant if request is not None else None)
        entry: dict[str, object] = {
            "time": _iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "event": event or "log",
            "message": record.getMessage(),
            "request_id": request.request_id if request is not None else None,
            "tenant": tenant,
            "client": fields.get("client_id"),
            "outcome": outcome,
        }
        if fields:
            entry["fields"] = fields
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=True)


def _iso_time(epoch: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return f"{seconds}.{int(epoch % 1 * 1000):03d}Z"


def install(level: str, stream: TextIO, fmt: str, *, json: bool = False) -> logging.Handler:
    """Configure the root logger with one handler on ``stream``: :class:`SafeFormatter` with
    ``fmt``, or :class:`JsonFormatter` with ``json``; return the handler (a root logger that
    already has handlers is left as it is, as :func:`logging.basicConfig` does)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json else SafeFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])
    return handler
