"""Events the device flow returns from ``DeviceFlow.receive`` (RFC 8628 §3.2, §3.4, §3.5).

Events are immutable plain classes with keyword-only constructors that validate their values.
``authorization_pending`` and ``slow_down`` are events on the normal path, not exceptions; only
terminal outcomes raise. Times (``expires_at``, ``next_poll_at``) are on whatever clock the caller
passed as ``now``.
"""

from ._messages import _Frozen
from ._token import Token
from ._validate import is_int

# typing.TYPE_CHECKING without importing typing (MicroPython has none; CPython skips ~2 ms of
# start-up): type checkers treat the name as true.
TYPE_CHECKING = False


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise TypeError(name + " must be a number")
    return value


def _text(name: str, value: object, *, optional: bool = False) -> "str | None":
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise TypeError(name + " must be a non-empty str")
    return value


class _Event(_Frozen):
    """A repr of every slot; subclasses name the slots to ``_hide`` (equality: ``_Frozen``)."""

    __slots__ = ()
    _hide: "tuple[str, ...]" = ()

    def __repr__(self) -> str:
        names: "tuple[str, ...]" = type(self).__slots__
        parts = []
        for name in names:
            value = "<hidden>" if name in self._hide else repr(getattr(self, name))
            parts.append(name + "=" + value)
        return type(self).__name__ + "(" + ", ".join(parts) + ")"


class DeviceCodeIssued(_Event):
    """The server issued a device code: show ``user_code`` and ``verification_uri`` (§3.2, §3.3).

    The device code itself stays inside the flow. ``user_code`` (and the complete URI and message
    that embed it) are hidden from the repr so that a logged event cannot leak them.

    Attributes:
        user_code: the code the user types on the verification page.
        verification_uri: where to type it (Microsoft v1's ``verification_url`` lands here too).
        verification_uri_complete: a URI that embeds the code (for a QR code), or ``None``.
        message: a sentence to show the user (the server's, or one built from the values above).
        expires_at: when the device code expires.
        interval: seconds to wait between polls.
        next_poll_at: when the first poll may be sent.
    """

    __slots__ = (
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "message",
        "expires_at",
        "interval",
        "next_poll_at",
    )
    _hide = ("user_code", "verification_uri_complete", "message")

    if TYPE_CHECKING:
        user_code: str
        verification_uri: str
        verification_uri_complete: str | None
        message: str
        expires_at: float
        interval: float
        next_poll_at: float

    def __init__(
        self,
        *,
        user_code: str,
        verification_uri: str,
        verification_uri_complete: "str | None" = None,
        message: str,
        expires_at: float,
        interval: float,
        next_poll_at: float,
    ) -> None:
        self._set("user_code", _text("user_code", user_code))
        self._set("verification_uri", _text("verification_uri", verification_uri))
        self._set(
            "verification_uri_complete",
            _text("verification_uri_complete", verification_uri_complete, optional=True),
        )
        self._set("message", _text("message", message))
        self._set("expires_at", _number("expires_at", expires_at))
        self._set("interval", _number("interval", interval))
        self._set("next_poll_at", _number("next_poll_at", next_poll_at))
        if interval <= 0:
            raise ValueError("interval must be positive")


class AuthorizationPending(_Event):
    """The user has not finished yet (``authorization_pending``, RFC 8628 §3.5): poll again later.

    Attributes:
        next_poll_at: when the next poll may be sent.
    """

    __slots__ = ("next_poll_at",)

    if TYPE_CHECKING:
        next_poll_at: float

    def __init__(self, *, next_poll_at: float) -> None:
        self._set("next_poll_at", _number("next_poll_at", next_poll_at))


class SlowDown(_Event):
    """The server asked the client to poll less often (``slow_down``, RFC 8628 §3.5).

    Attributes:
        interval: the new interval in seconds (raised by 5 s), kept for the rest of the flow.
        next_poll_at: when the next poll may be sent.
    """

    __slots__ = ("interval", "next_poll_at")

    if TYPE_CHECKING:
        interval: float
        next_poll_at: float

    def __init__(self, *, interval: float, next_poll_at: float) -> None:
        self._set("interval", _number("interval", interval))
        self._set("next_poll_at", _number("next_poll_at", next_poll_at))
        if interval <= 0:
            raise ValueError("interval must be positive")


class Retrying(_Event):
    """A poll failed for a reason that may pass (HTTP 5xx/429/408, a network fault): back off.

    The flow stays alive; the delay doubles with each consecutive failure (capped) and honours
    ``Retry-After``, but ``next_poll_at`` never passes the device code's ``expires_at``.

    Attributes:
        reason: a short description (``"HTTP 503"``, ``"temporarily_unavailable"``, or the
            driver's own words for a transport fault).
        attempt: how many polls in a row have failed this way (1 for the first).
        next_poll_at: when the next poll may be sent.
        status: the HTTP status, or ``None`` for a transport fault.
        retry_after: the server's ``Retry-After`` in seconds, when it sent one.
    """

    __slots__ = ("reason", "attempt", "next_poll_at", "status", "retry_after")

    if TYPE_CHECKING:
        reason: str
        attempt: int
        next_poll_at: float
        status: int | None
        retry_after: float | None

    def __init__(
        self,
        *,
        reason: str,
        attempt: int,
        next_poll_at: float,
        status: "int | None" = None,
        retry_after: "float | None" = None,
    ) -> None:
        self._set("reason", _text("reason", reason))
        if not is_int(attempt) or attempt < 1:
            raise ValueError("attempt must be an int >= 1")
        self._set("attempt", attempt)
        self._set("next_poll_at", _number("next_poll_at", next_poll_at))
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise TypeError("status must be an int or None")
        self._set("status", status)
        self._set(
            "retry_after", None if retry_after is None else _number("retry_after", retry_after)
        )


class TokenIssued(_Event):
    """The user approved and the server issued tokens (RFC 8628 §3.5, RFC 6749 §5.1).

    Attributes:
        token: the :class:`~deviceflow.core.Token`.
    """

    __slots__ = ("token",)

    if TYPE_CHECKING:
        token: Token

    def __init__(self, *, token: Token) -> None:
        if not isinstance(token, Token):
            raise TypeError("token must be a Token")
        self._set("token", token)
