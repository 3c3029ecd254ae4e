"""HTTP message values exchanged between the sans-I/O core and a transport.

The core never opens a socket: it hands out :class:`HttpRequest` values and takes
:class:`HttpResponse` values back. Both are immutable plain classes (no dataclasses) so the
module runs unchanged on MicroPython.
"""

# typing.TYPE_CHECKING without importing typing (MicroPython has none; CPython skips ~2 ms of
# start-up): type checkers treat the name as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any


# The core itself sends GET (discovery) and POST (OAuth endpoints); the Graph client, which shares
# these values and the transports, also needs the other methods of a REST API.
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


def _freeze_headers(headers: "Any") -> "tuple[tuple[str, str], ...]":
    if headers is None:
        return ()
    items = headers.items() if hasattr(headers, "items") else headers
    out = []
    for name, value in items:
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("header names and values must be str")
        out.append((name, value))
    return tuple(out)


class _Frozen:
    """Immutable slot values: equal when of the same class with equal ``_values()``."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(type(self).__name__ + " is immutable")

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _values(self) -> "tuple[object, ...]":
        names: "tuple[str, ...]" = type(self).__slots__
        return tuple(getattr(self, name) for name in names)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Frozen)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))


class _Message(_Frozen):
    __slots__ = ()

    if TYPE_CHECKING:
        headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> "str | None":
        """Return the first header called ``name`` (case-insensitive), or ``None``."""
        return _find_header(self.headers, name)


class HttpRequest(_Message):
    """One HTTP request the caller must send.

    Attributes:
        method: ``"GET"``, ``"POST"``, ``"PUT"``, ``"PATCH"``, ``"DELETE"`` or ``"HEAD"``.
        url: absolute URL.
        headers: tuple of ``(name, value)`` pairs.
        body: request body bytes (``b""`` for none).
    """

    __slots__ = ("method", "url", "headers", "body")

    if TYPE_CHECKING:
        method: str
        url: str
        headers: tuple[tuple[str, str], ...]
        body: bytes

    def __init__(self, *, method: str, url: str, headers: "Any" = None, body: bytes = b"") -> None:
        if method not in _METHODS:
            raise ValueError("unsupported method: " + repr(method))
        if not _is_str(url) or not url:
            raise ValueError("url must be a non-empty str")
        if not isinstance(body, bytes):
            raise TypeError("body must be bytes")
        self._set("method", method)
        self._set("url", url)
        self._set("headers", _freeze_headers(headers))
        self._set("body", body)

    def __repr__(self) -> str:
        # The body may carry a device code or refresh token: never show it.
        return (
            "<HttpRequest " + self.method + " " + self.url + " (" + str(len(self.body)) + " bytes)>"
        )


class HttpResponse(_Message):
    """One HTTP response the transport received.

    Attributes:
        status: HTTP status code.
        headers: tuple of ``(name, value)`` pairs.
        body: response body bytes.
    """

    __slots__ = ("status", "headers", "body")

    if TYPE_CHECKING:
        status: int
        headers: tuple[tuple[str, str], ...]
        body: bytes

    def __init__(self, *, status: int, headers: "Any" = None, body: bytes = b"") -> None:
        if not _is_int(status) or not 100 <= status <= 599:
            raise ValueError("status must be an int between 100 and 599")
        if not isinstance(body, bytes):
            raise TypeError("body must be bytes")
        self._set("status", status)
        self._set("headers", _freeze_headers(headers))
        self._set("body", body)

    def __repr__(self) -> str:
        return "<HttpResponse " + str(self.status) + " (" + str(len(self.body)) + " bytes)>"


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _find_header(headers: "tuple[tuple[str, str], ...]", name: str) -> "str | None":
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None
