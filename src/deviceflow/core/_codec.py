"""Wire encoding and decoding for the core: forms, JSON bodies, OAuth error bodies, dialect quirks.

Theory of operation: every byte that arrives from the network passes through this module before
the flow looks at it, and everything that can go wrong here becomes one of our own exceptions
(:class:`RemoteProtocolError` or an :class:`OAuthError` subclass), never ``KeyError``,
``JSONDecodeError`` or ``UnicodeDecodeError``. Dialect quirks (numbers sent as strings, Microsoft
``AADSTS`` codes) are normalised here so the flow only sees one shape.

MicroPython has no ``urllib.parse``, no ``str.translate`` and a ``binascii`` that is not always
compiled in, so the form encoder, percent-encoding and base64url decoder are written out below
using only ``json`` and built-ins. Dict ordering is not guaranteed there either: forms are built
from lists of pairs.
"""

from ._errors import OAuthError, RemoteProtocolError, oauth_error_class

# typing.TYPE_CHECKING without importing typing (MicroPython has none; CPython skips ~2 ms of
# start-up): type checkers treat the name as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

    # Only the request builders need the message classes at run time, and import them there: a
    # board decoding answers of its own (deviceflow.micro) does not load them.
    from ._messages import HttpRequest, HttpResponse

_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_UNRESERVED_BYTES = _UNRESERVED.encode("ascii")
_HEX = "0123456789ABCDEF"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DIGITS = "0123456789"
_INF = float("inf")

#: The longest excerpt of a non-JSON body quoted in a :class:`RemoteProtocolError`.
SNIPPET_LIMIT = 80

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"


# --- requests ------------------------------------------------------------------------------------


def quote(text: str, safe: str = "") -> str:
    """Percent-encode ``text`` as UTF-8 (RFC 3986 §2.1), keeping unreserved chars and ``safe``.

    Runs of kept bytes are copied whole, and text with nothing to escape (a token, a device code)
    comes back as it is: on a board, a list of one string per character of a 2 KB refresh token
    would not fit in the heap.
    """
    data = text.encode("utf-8")
    out = []
    start = 0
    for index in range(len(data)):
        byte = data[index]
        if byte < 128 and (byte in _UNRESERVED_BYTES or chr(byte) in safe):
            continue
        out.append(data[start:index].decode("ascii"))
        out.append("%" + _HEX[byte >> 4] + _HEX[byte & 15])
        start = index + 1
    if not out:
        return text
    out.append(data[start:].decode("ascii"))
    return "".join(out)


def form_encode(pairs: "list[tuple[str, str]]") -> bytes:
    """Encode ``(name, value)`` pairs as ``application/x-www-form-urlencoded`` (space as ``+``)."""
    parts = []
    for name, value in pairs:
        parts.append(_form_quote(name) + "=" + _form_quote(value))
    return "&".join(parts).encode("ascii")


def _form_quote(text: str) -> str:
    return quote(text, " ").replace(" ", "+")


def form_post(url: str, pairs: "list[tuple[str, str]]") -> "HttpRequest":
    """A ``POST`` of a form that asks for JSON back (every OAuth endpoint we call)."""
    from ._messages import HttpRequest

    return HttpRequest(
        method="POST",
        url=url,
        headers=[("Accept", JSON_CONTENT_TYPE), ("Content-Type", FORM_CONTENT_TYPE)],
        body=form_encode(pairs),
    )


def json_get(url: str) -> "HttpRequest":
    """A ``GET`` that asks for JSON back (discovery documents)."""
    from ._messages import HttpRequest

    return HttpRequest(method="GET", url=url, headers=[("Accept", JSON_CONTENT_TYPE)])


# --- bodies --------------------------------------------------------------------------------------


def snippet(body: bytes, limit: int = SNIPPET_LIMIT) -> str:
    """A short, printable-ASCII excerpt of ``body``: whitespace collapsed, other bytes as ``?``."""
    out: "list[str]" = []
    pending_space = False
    for byte in body[: limit * 8]:
        if byte in (9, 10, 13, 32):
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            pending_space = False
        out.append(chr(byte) if 32 < byte < 127 else "?")
        if len(out) >= limit:
            out.append("...")
            break
    return "".join(out)


def is_success(status: int) -> bool:
    return 200 <= status <= 299


def is_transient_status(status: int) -> bool:
    """Statuses worth retrying later: 408 Request Timeout, 429 Too Many Requests and any 5xx."""
    return status in (408, 429) or 500 <= status <= 599


def decode_json_object(response: "HttpResponse", what: str) -> "dict[str, Any]":
    """Decode the response body as a JSON object, or raise :class:`RemoteProtocolError`.

    A body that is not JSON (an HTML error page, a proxy's text) is quoted as a short, sanitised
    snippet. A JSON body that is not an object is not quoted: it might hold a secret.
    """
    import json  # with the first answer: constructing a client loads neither json nor re

    body = response.body
    if body[:3] == b"\xef\xbb\xbf":  # a UTF-8 byte-order mark, as some proxies prepend
        body = body[3:]
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, RuntimeError):
        # ValueError covers bad JSON and bad UTF-8 (UnicodeError); RuntimeError covers
        # RecursionError from absurdly nested arrays (MicroPython raises RuntimeError itself).
        raise RemoteProtocolError(
            what + " is not JSON", status=response.status, snippet=snippet(response.body)
        ) from None
    if not isinstance(value, dict):
        raise RemoteProtocolError(what + " is not a JSON object", status=response.status)
    return value


def try_decode_json_object(response: "HttpResponse") -> "dict[str, Any] | None":
    """Like :func:`decode_json_object`, but ``None`` instead of raising."""
    try:
        return decode_json_object(response, "body")
    except RemoteProtocolError:
        return None


# --- members -------------------------------------------------------------------------------------


def clean_text(value: str, limit: int = 1000) -> str:
    """Make server-supplied text safe to print: control characters become spaces, runs collapse.

    A hostile server could otherwise move the cursor or rewrite a terminal with escape sequences.
    Text that is clean already (the usual case) is returned as it is, found so by looking at its
    bytes: going through it a character at a time would make, on MicroPython, one interned string
    per distinct character, which a board never gets back.
    """
    if _is_clean(value, limit):
        return value
    out: "list[str]" = []
    space = False
    for char in value:
        code = ord(char)
        if code < 32 or 127 <= code < 160 or char == " ":
            space = bool(out)
            continue
        if space:
            out.append(" ")
            space = False
        out.append(char)
        if len(out) >= limit:
            break
    return "".join(out)


def _is_clean(value: str, limit: int) -> bool:
    """Whether :func:`clean_text` would return ``value`` unchanged."""
    if len(value) > limit or value.startswith(" ") or value.endswith(" ") or "  " in value:
        return False
    # In UTF-8, the C0 controls and DEL are single bytes below 32 and 127, the C1 controls
    # (U+0080-U+009F) are 0xC2 followed by 0x80-0x9F; no other character has such bytes.
    data = value.encode("utf-8", "surrogatepass")
    for index in range(len(data)):
        byte = data[index]
        if byte < 32 or byte == 127:
            return False
        if byte == 0xC2 and index + 1 < len(data) and data[index + 1] < 0xA0:
            return False
    return True


def optional_str(obj: "dict[str, Any]", name: str) -> "str | None":
    value = obj.get(name)
    if isinstance(value, str) and value:
        return value
    return None


def required_str(obj: "dict[str, Any]", name: str, what: str, status: int) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        problem = "is missing" if value is None else "is not a non-empty string"
        raise RemoteProtocolError(what + ": '" + name + "' " + problem, status=status)
    return value


def parse_number(value: object) -> "float | None":
    """A non-negative finite number from a JSON number or a decimal string (``"900"``, ``"5.0"``).

    Returns ``None`` when ``value`` is not such a number. Strings are parsed strictly (ASCII digits
    with at most one decimal point), unlike ``int()`` which also takes ``"1_0"`` and Unicode digits.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if value >= 0 else None
    if isinstance(value, float):
        if value != value or value in (_INF, -_INF) or value < 0:
            return None
        return value
    if isinstance(value, str):
        text = value.strip()
        whole, dot, fraction = text.partition(".")
        if not whole or not is_digits(whole) or (dot and not is_digits(fraction)):
            return None
        if len(whole) > 15:  # beyond any sane duration; keeps float() exact and bounded
            return None
        return float(text)
    return None


def is_digits(text: str) -> bool:
    """``True`` when ``text`` is one or more ASCII digits."""
    if not text:
        return False
    for char in text:
        if char not in _DIGITS:
            return False
    return True


def seconds(
    obj: "dict[str, Any]", name: str, what: str, status: int, default: "int | None"
) -> "int | None":
    """A duration member in whole seconds (rounded down), tolerating numbers sent as strings."""
    value = obj.get(name)
    if value is None:
        return default
    number = parse_number(value)
    if number is None:
        raise RemoteProtocolError(
            what + ": '" + name + "' is not a non-negative number", status=status
        )
    return int(number)


def split_scope(value: object) -> "tuple[str, ...]":
    """Split a space-delimited ``scope`` string (RFC 6749 §3.3) into a tuple."""
    if not isinstance(value, str):
        return ()
    return tuple(part for part in value.split(" ") if part)


# --- base64url and JWT claims ---------------------------------------------------------------------


def b64url_decode(text: str) -> bytes:
    """Decode base64url (or standard base64), with or without padding; ``ValueError`` if invalid."""
    values = []
    for char in text.strip().rstrip("="):
        if char == "-":
            char = "+"
        elif char == "_":
            char = "/"
        index = _B64.find(char)
        if index < 0:
            raise ValueError("not base64url")
        values.append(index)
    if len(values) % 4 == 1:
        raise ValueError("truncated base64url")
    out = bytearray()
    for start in range(0, len(values), 4):
        chunk = values[start : start + 4]
        acc = 0
        for value in chunk:
            acc = (acc << 6) | value
        bits = 6 * len(chunk)
        count = bits // 8
        acc >>= bits - count * 8
        for shift in range(count - 1, -1, -1):
            out.append((acc >> (8 * shift)) & 255)
    return bytes(out)


def decode_json_segment(text: object) -> "dict[str, Any] | None":
    """Decode a base64url JSON object (a JWT segment, Microsoft ``client_info``), or ``None``."""
    if not isinstance(text, str):
        return None
    import json

    try:
        value = json.loads(b64url_decode(text).decode("utf-8"))
    except (ValueError, RuntimeError):
        return None
    return value if isinstance(value, dict) else None


def jwt_claims(token: object) -> "dict[str, Any] | None":
    """The claims of a JWT, decoded for display only: the signature is NOT checked."""
    if not isinstance(token, str):
        return None
    parts = token.split(".")
    if len(parts) < 2:
        return None
    return decode_json_segment(parts[1])


# --- OAuth error bodies ---------------------------------------------------------------------------


def aadsts_codes(obj: "dict[str, Any]", description: "str | None") -> "tuple[int, ...]":
    """Microsoft ``AADSTS`` numbers from ``error_codes`` or, failing that, from the description."""
    codes: "list[int]" = []
    listed = obj.get("error_codes")
    if isinstance(listed, list):
        for item in listed:
            number = parse_number(item)
            if number is not None and number == int(number):
                codes.append(int(number))
    if not codes and description:
        start = description.find("AADSTS")
        while start >= 0:
            end = start + 6
            while end < len(description) and description[end] in _DIGITS:
                end += 1
            if end > start + 6:
                codes.append(int(description[start + 6 : end]))
            start = description.find("AADSTS", end)
    return tuple(codes)


def error_code(obj: "dict[str, Any] | None") -> "str | None":
    """The OAuth ``error`` member when it is a non-empty string (not Graph's nested object)."""
    if obj is None:
        return None
    value = obj.get("error")
    if isinstance(value, str) and value:
        return value
    return None


def oauth_error(obj: "dict[str, Any]", code: str, status: int) -> OAuthError:
    """Build the typed exception for an OAuth error body (RFC 6749 §5.2, Microsoft extensions)."""
    raw_description = optional_str(obj, "error_description")
    description = clean_text(raw_description) if raw_description else None
    error_uri = optional_str(obj, "error_uri")
    cls = oauth_error_class(code)
    return cls(
        clean_text(code, 100),
        description,
        error_uri=error_uri,
        error_codes=aadsts_codes(obj, description),
        status=status,
        raw=obj,
    )


# --- Retry-After ---------------------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(value: str) -> "int | None":
    """Seconds since the epoch for an IMF-fixdate (RFC 9110 §5.6.7), or ``None``."""
    parts = value.strip().split()
    if len(parts) != 6 or parts[5] != "GMT" or parts[2] not in _MONTHS:
        return None
    day, year, clock = parts[1], parts[3], parts[4].split(":")
    if not (is_digits(day) and is_digits(year) and len(clock) == 3):
        return None
    for item in clock:
        if not is_digits(item):
            return None
    month = _MONTHS.index(parts[2]) + 1
    days = _days_from_civil(int(year), month, int(day))
    return days * 86400 + int(clock[0]) * 3600 + int(clock[1]) * 60 + int(clock[2])


def _days_from_civil(year: int, month: int, day: int) -> int:
    # Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    if month <= 2:
        year -= 1
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def retry_after(response: "HttpResponse") -> "float | None":
    """The ``Retry-After`` delay in seconds (RFC 9110 §10.2.3), or ``None``.

    The HTTP-date form is measured against the response's own ``Date`` header, so the core needs
    no clock; without a ``Date`` header that form is ignored.
    """
    value = response.header("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if is_digits(value):
        return float(min(int(value), 86400))
    when = http_date(value)
    date = response.header("Date")
    sent = http_date(date) if date is not None else None
    if when is None or sent is None:
        return None
    return float(min(max(when - sent, 0), 86400))
