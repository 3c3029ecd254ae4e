"""The token a successful device flow or refresh returns (RFC 6749 §5.1, Microsoft §6 shapes).

``expires_in`` arrives as an integer (v2.0, RFC) or a string (v1); ``scope`` may be missing when
it equals what was requested (RFC 6749 §5.1); ``id_token`` claims and Microsoft's ``client_info``
are decoded for display only. The ID token is NOT validated here: treat the claims as hints, never
as proof of identity, and treat the access token as opaque.
"""

from ._codec import (
    decode_json_segment,
    jwt_claims,
    optional_str,
    required_str,
    seconds,
    split_scope,
)
from ._messages import _Frozen
from ._validate import is_int, is_number, is_text

# typing.TYPE_CHECKING without importing typing (MicroPython has none; CPython skips ~2 ms of
# start-up): type checkers treat the name as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

_WHAT = "token response"


def _optional_int(name: str, value: object) -> "int | None":
    if value is None:
        return None
    if not is_int(value) or value < 0:
        raise ValueError(name + " must be a non-negative int or None")
    return value


def _optional_text(name: str, value: object) -> "str | None":
    if value is None:
        return None
    if not is_text(value):
        raise TypeError(name + " must be a non-empty str or None")
    return value


class Token(_Frozen):
    """An access token and what came with it.

    ``repr()`` never shows token values. Times are on the clock of the ``now`` that was passed in;
    :meth:`with_issued_at` re-bases a token on another clock.

    Attributes:
        access_token: the access token (opaque to the client).
        token_type: usually ``"Bearer"``.
        expires_in: lifetime in seconds, or ``None`` when the server did not say.
        issued_at: the ``now`` at which the response was received.
        refresh_token: the refresh token, when one was issued.
        scopes: the granted scopes (the requested ones when the server omitted ``scope``).
        id_token: the raw ID token, when one was issued.
        id_token_claims: its claims, decoded for display only (NOT validated), or ``None``.
        client_info: Microsoft's decoded ``client_info`` (``uid``, ``utid``), or ``None``.
        ext_expires_in: Microsoft's extended lifetime in seconds, or ``None``.
        resource: the v1 ``resource`` the token is for, or ``None``.
        raw: the decoded JSON response, as received.
    """

    __slots__ = (
        "access_token",
        "token_type",
        "expires_in",
        "issued_at",
        "refresh_token",
        "scopes",
        "id_token",
        "id_token_claims",
        "client_info",
        "ext_expires_in",
        "resource",
        "raw",
    )

    if TYPE_CHECKING:
        access_token: str
        token_type: str
        expires_in: int | None
        issued_at: float
        refresh_token: str | None
        scopes: tuple[str, ...]
        id_token: str | None
        id_token_claims: dict[str, Any] | None
        client_info: dict[str, Any] | None
        ext_expires_in: int | None
        resource: str | None
        raw: dict[str, Any]

    def __init__(
        self,
        *,
        access_token: str,
        token_type: str = "Bearer",
        expires_in: "int | None" = None,
        issued_at: float,
        refresh_token: "str | None" = None,
        scopes: "tuple[str, ...]" = (),
        id_token: "str | None" = None,
        id_token_claims: "dict[str, Any] | None" = None,
        client_info: "dict[str, Any] | None" = None,
        ext_expires_in: "int | None" = None,
        resource: "str | None" = None,
        raw: "dict[str, Any] | None" = None,
    ) -> None:
        if not is_text(access_token):
            raise TypeError("access_token must be a non-empty str")
        if not is_text(token_type):
            raise TypeError("token_type must be a non-empty str")
        if not is_number(issued_at):
            raise TypeError("issued_at must be a number")
        scopes = tuple(scopes)
        for scope in scopes:
            if not is_text(scope) or " " in scope:
                raise ValueError("each scope must be a non-empty str without spaces")
        if id_token_claims is not None and not isinstance(id_token_claims, dict):
            raise TypeError("id_token_claims must be a dict or None")
        if client_info is not None and not isinstance(client_info, dict):
            raise TypeError("client_info must be a dict or None")
        if raw is not None and not isinstance(raw, dict):
            raise TypeError("raw must be a dict or None")
        self._set("access_token", access_token)
        self._set("token_type", token_type)
        self._set("expires_in", _optional_int("expires_in", expires_in))
        self._set("issued_at", issued_at)
        self._set("refresh_token", _optional_text("refresh_token", refresh_token))
        self._set("scopes", scopes)
        self._set("id_token", _optional_text("id_token", id_token))
        self._set("id_token_claims", id_token_claims)
        self._set("client_info", client_info)
        self._set("ext_expires_in", _optional_int("ext_expires_in", ext_expires_in))
        self._set("resource", _optional_text("resource", resource))
        self._set("raw", dict(raw) if raw is not None else {})

    @property
    def expires_at(self) -> "float | None":
        """``issued_at + expires_in``, or ``None`` when the lifetime is unknown."""
        if self.expires_in is None:
            return None
        return self.issued_at + self.expires_in

    def is_expired(self, now: float, *, leeway: float = 0) -> bool:
        """``True`` when the token expires within ``leeway`` seconds of ``now`` (or has expired).

        A token whose lifetime is unknown is never reported as expired.
        """
        expires_at = self.expires_at
        return expires_at is not None and now + leeway >= expires_at

    def with_issued_at(self, issued_at: float) -> "Token":
        """Return a copy whose times are measured from ``issued_at`` (on another clock)."""
        return self.replace(issued_at=issued_at)

    def replace(self, **changes: "Any") -> "Token":
        """Return a copy with the given attributes changed (validated like the constructor).

        Raises:
            TypeError, ValueError: as for the constructor; this token is left unchanged.
        """
        values = {}
        for name in Token.__slots__:
            values[name] = getattr(self, name)
        values.update(changes)
        return Token(**values)

    def __hash__(self) -> int:
        # ``raw`` and the decoded claims are dicts: hash what identifies the token.
        return hash((self.access_token, self.issued_at))

    def __repr__(self) -> str:
        return (
            "<Token "
            + self.token_type
            + " scopes="
            + repr(self.scopes)
            + " expires_in="
            + repr(self.expires_in)
            + " refresh_token="
            + ("yes" if self.refresh_token else "no")
            + " id_token="
            + ("yes" if self.id_token else "no")
            + ">"
        )


def token_from_json(
    obj: "dict[str, Any]",
    now: float,
    *,
    status: int = 200,
    requested_scopes: "tuple[str, ...]" = (),
    resource: "str | None" = None,
) -> Token:
    """Build a :class:`Token` from a successful token response body (RFC 6749 §5.1).

    Raises:
        RemoteProtocolError: ``access_token`` is missing, or a number is not a number.
    """
    access_token = required_str(obj, "access_token", _WHAT, status)
    scope = obj.get("scope")
    scopes = split_scope(scope) if isinstance(scope, str) else tuple(requested_scopes)
    id_token = optional_str(obj, "id_token")
    return Token(
        access_token=access_token,
        token_type=optional_str(obj, "token_type") or "Bearer",
        expires_in=seconds(obj, "expires_in", _WHAT, status, None),
        issued_at=now,
        refresh_token=optional_str(obj, "refresh_token"),
        scopes=scopes,
        id_token=id_token,
        id_token_claims=jwt_claims(id_token),
        client_info=decode_json_segment(obj.get("client_info")),
        ext_expires_in=seconds(obj, "ext_expires_in", _WHAT, status, None),
        resource=optional_str(obj, "resource") or resource,
        raw=obj,
    )
