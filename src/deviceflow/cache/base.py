"""The token cache seam: what is stored per profile, and the :class:`TokenCache` protocol.

A *profile* keeps one signed-in account for one app (client id + authority). Its
:class:`CacheEntry` holds where to refresh (token and revocation URLs), who signed in, the latest
refresh token and the access tokens obtained so far (one per scope set). Entries are plain frozen
values; backends only store and load them, under a per-profile lock that callers hold across
"load, refresh, save" so that concurrent processes refresh once and never lose a rotated refresh
token.
"""

from __future__ import annotations

# ``_collections_abc`` is where ``collections.abc.Mapping`` is defined, and Python loads it at
# start-up; ``collections.abc`` would also import ``collections`` (``deviceflow token`` loads
# this module).
from _collections_abc import Mapping

from deviceflow.errors import DeviceFlowError

# ``typing.TYPE_CHECKING`` without importing typing (``deviceflow token`` loads this module: no
# typing, dataclasses or re here); type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, ClassVar

    from deviceflow.cache._protocol import TokenCache

__all__ = [
    "SCHEMA_VERSION",
    "AccessToken",
    "Account",
    "CacheCorruptError",
    "CacheEntry",
    "CacheError",
    "CacheLockTimeoutError",
    "CachePermissionError",
    "TokenCache",
    "check_profile_name",
]

#: Version of the on-disk layout of one entry; bumped on incompatible changes.
SCHEMA_VERSION = 1

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_PROFILE_CHARS = _ALNUM | frozenset("._-")


class CacheError(DeviceFlowError):
    """The token cache cannot be used (unsafe permissions, corrupt file, newer schema, lock)."""


class CachePermissionError(CacheError):
    """The cache file or directory is accessible to other users; the message says how to fix it."""


class CacheCorruptError(CacheError):
    """The cache file could not be read; it was renamed aside (``moved_to``) and kept for review."""

    def __init__(self, message: str, *, moved_to: str | None = None) -> None:
        super().__init__(message)
        self.moved_to = moved_to


class CacheLockTimeoutError(CacheError):
    """Another process held the profile's lock for too long."""


def check_profile_name(profile: str) -> str:
    """Return ``profile`` if it is a safe profile name (it becomes part of a file name).

    Raises:
        ValueError: the name is empty, too long, or has characters other than letters, digits,
            ``.``, ``_`` and ``-`` (or starts with one of the punctuation characters).
    """
    if not (0 < len(profile) <= 64 and profile[0] in _ALNUM and _PROFILE_CHARS.issuperset(profile)):
        raise ValueError(
            f"invalid profile name {profile!r}: use letters, digits, '.', '_' or '-' "
            "(at most 64 characters, starting with a letter or digit)"
        )
    return profile


def _scope_set(scopes: Iterable[str]) -> frozenset[str]:
    # Microsoft may answer "https://graph.microsoft.com/User.Read" for "User.Read"; scope
    # names compare case-insensitively there.
    return frozenset(s.rsplit("/", 1)[-1].lower() for s in scopes if s)


class _Record:
    """An immutable value (plain class with ``__slots__``: no dataclasses on the ``token`` path).

    Equality, hashing and the repr go over ``__slots__`` in order; ``_hidden`` members (secrets)
    are left out of the repr.
    """

    __slots__: tuple[str, ...] = ()
    _hidden: ClassVar[tuple[str, ...]] = ()

    def _init(self, **values: object) -> None:
        for name in self.__slots__:
            object.__setattr__(self, name, values[name])

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, _Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = (f"{n}={getattr(self, n)!r}" for n in self.__slots__ if n not in self._hidden)
        return f"{type(self).__name__}({', '.join(shown)})"


class AccessToken(_Record):
    """One access token and what it is good for.

    Attributes:
        token: the bearer token itself (never shown in the repr).
        expires_at: wall-clock expiry, seconds since the epoch.
        scopes: the scopes it was granted for.
        token_type: the token type, normally ``Bearer``.
    """

    __slots__ = ("token", "expires_at", "scopes", "token_type")
    _hidden = ("token",)
    token: str
    expires_at: float
    scopes: tuple[str, ...]
    token_type: str

    def __init__(
        self,
        *,
        token: str,
        expires_at: float,
        scopes: tuple[str, ...] = (),
        token_type: str = "Bearer",
    ) -> None:
        self._init(token=token, expires_at=expires_at, scopes=scopes, token_type=token_type)

    def is_valid(self, now: float, *, min_validity: float = 0.0) -> bool:
        """Whether the token is still good for at least ``min_validity`` seconds after ``now``."""
        return now + min_validity < self.expires_at

    def covers(self, scopes: Iterable[str]) -> bool:
        """Whether every scope in ``scopes`` was granted (``openid``-style extras are ignored;
        names compare case-insensitively, ignoring a resource URL prefix)."""
        wanted = _scope_set(scopes) - {"offline_access", "openid", "profile", "email"}
        return wanted <= _scope_set(self.scopes)


class Account(_Record):
    """Who signed in, for display (taken from the ID token, not validated).

    Attributes:
        username: the sign-in name (``preferred_username``, ``upn`` or ``email``).
        name: the display name.
        subject: a stable identifier (``oid`` or ``sub``).
    """

    __slots__ = ("username", "name", "subject")
    username: str | None
    name: str | None
    subject: str | None

    def __init__(
        self, *, username: str | None = None, name: str | None = None, subject: str | None = None
    ) -> None:
        self._init(username=username, name=name, subject=subject)

    def label(self) -> str:
        """A short human label: ``Name <username>``, or whichever part is known."""
        if self.name and self.username:
            return f"{self.name} <{self.username}>"
        return self.name or self.username or self.subject or "unknown account"


class CacheEntry(_Record):
    """Everything one profile keeps between runs.

    Attributes:
        client_id: the app the tokens belong to.
        token_url: where to refresh.
        device_authorization_url: where a new sign-in starts.
        revocation_url: where ``logout`` revokes (RFC 7009), if the server has one.
        issuer: the issuer or authority the user signed in with.
        dialect: ``"v2"``, ``"v1"`` or ``"rfc8628"`` (see ``deviceflow.core.Endpoints``).
        resource: the Microsoft v1 resource, if any.
        scopes: the scopes asked for at sign-in (used again when refreshing).
        account: who signed in.
        refresh_token: the newest refresh token (never shown in the repr).
        access_tokens: access tokens obtained so far, at most one per scope set.
        updated_at: wall-clock time of the last change.
    """

    __slots__ = (
        "client_id",
        "token_url",
        "device_authorization_url",
        "revocation_url",
        "issuer",
        "dialect",
        "resource",
        "scopes",
        "account",
        "refresh_token",
        "access_tokens",
        "updated_at",
    )
    _hidden = ("refresh_token",)
    client_id: str
    token_url: str
    device_authorization_url: str
    revocation_url: str | None
    issuer: str | None
    dialect: str
    resource: str | None
    scopes: tuple[str, ...]
    account: Account
    refresh_token: str | None
    access_tokens: tuple[AccessToken, ...]
    updated_at: float

    def __init__(
        self,
        *,
        client_id: str,
        token_url: str,
        device_authorization_url: str,
        revocation_url: str | None = None,
        issuer: str | None = None,
        dialect: str = "rfc8628",
        resource: str | None = None,
        scopes: tuple[str, ...] = (),
        account: Account = Account(),  # noqa: B008 - immutable
        refresh_token: str | None = None,
        access_tokens: tuple[AccessToken, ...] = (),
        updated_at: float = 0.0,
    ) -> None:
        self._init(
            client_id=client_id,
            token_url=token_url,
            device_authorization_url=device_authorization_url,
            revocation_url=revocation_url,
            issuer=issuer,
            dialect=dialect,
            resource=resource,
            scopes=scopes,
            account=account,
            refresh_token=refresh_token,
            access_tokens=access_tokens,
            updated_at=updated_at,
        )

    def replace(self, **changes: Any) -> CacheEntry:
        """A copy with ``changes`` (member name -> new value), like ``dataclasses.replace``."""
        values: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return CacheEntry(**values)

    def find(
        self, scopes: Iterable[str], now: float, *, min_validity: float = 0.0
    ) -> AccessToken | None:
        """Return a cached access token covering ``scopes`` valid for ``min_validity`` seconds."""
        wanted = tuple(scopes)
        for token in self.access_tokens:
            if token.covers(wanted) and token.is_valid(now, min_validity=min_validity):
                return token
        return None

    def with_tokens(
        self, access: AccessToken, *, refresh_token: str | None, now: float
    ) -> CacheEntry:
        """Return a copy holding ``access`` (replacing tokens for the same scopes, dropping
        expired ones) and the rotated refresh token, if the server sent one."""
        key = _scope_set(access.scopes)
        kept = tuple(
            t for t in self.access_tokens if _scope_set(t.scopes) != key and t.is_valid(now)
        )
        return self.replace(
            access_tokens=(access, *kept),
            refresh_token=refresh_token if refresh_token else self.refresh_token,
            updated_at=now,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form written to disk, with the schema version."""
        return {
            "version": SCHEMA_VERSION,
            "client_id": self.client_id,
            "token_url": self.token_url,
            "device_authorization_url": self.device_authorization_url,
            "revocation_url": self.revocation_url,
            "issuer": self.issuer,
            "dialect": self.dialect,
            "resource": self.resource,
            "scopes": list(self.scopes),
            "account": {
                "username": self.account.username,
                "name": self.account.name,
                "subject": self.account.subject,
            },
            "refresh_token": self.refresh_token,
            "access_tokens": [
                {
                    "token": t.token,
                    "expires_at": t.expires_at,
                    "scopes": list(t.scopes),
                    "token_type": t.token_type,
                }
                for t in self.access_tokens
            ],
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CacheEntry:
        """Rebuild an entry from :meth:`to_dict` output.

        Raises:
            ValueError: a member is missing or has the wrong type, or the version is unknown.
        """
        if data.get("version") != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema version {data.get('version')!r}")
        account = data.get("account") or {}
        if not isinstance(account, Mapping):
            raise ValueError("'account' must be an object")
        scopes = data.get("scopes") or []
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError("'scopes' must be a list of strings")
        tokens = data.get("access_tokens") or []
        if not isinstance(tokens, list):
            raise ValueError("'access_tokens' must be a list")
        return cls(
            client_id=_str(data, "client_id"),
            token_url=_str(data, "token_url"),
            device_authorization_url=_str(data, "device_authorization_url"),
            revocation_url=_opt_str(data, "revocation_url"),
            issuer=_opt_str(data, "issuer"),
            dialect=_str(data, "dialect"),
            resource=_opt_str(data, "resource"),
            scopes=tuple(scopes),
            account=Account(
                username=_opt_str(account, "username"),
                name=_opt_str(account, "name"),
                subject=_opt_str(account, "subject"),
            ),
            refresh_token=_opt_str(data, "refresh_token"),
            access_tokens=tuple(_access_token(t) for t in tokens),
            updated_at=_number(data, "updated_at"),
        )


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string or null")
    return value


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key!r} must be a number")
    return float(value)


def _access_token(data: object) -> AccessToken:
    if not isinstance(data, Mapping):
        raise ValueError("each access token must be an object")
    scopes = data.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValueError("'scopes' must be a list of strings")
    return AccessToken(
        token=_str(data, "token"),
        expires_at=_number(data, "expires_at"),
        scopes=tuple(scopes),
        token_type=_str(data, "token_type"),
    )


def __getattr__(name: str) -> object:
    """:class:`TokenCache` lives in :mod:`deviceflow.cache._protocol` (it needs ``typing``)."""
    if name == "TokenCache":
        from deviceflow.cache._protocol import TokenCache

        return TokenCache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
