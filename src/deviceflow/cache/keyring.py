"""Secrets in the OS keyring: the file cache keeps a profile's metadata, the keyring its tokens.

Opt-in (``deviceflow login --keyring``, ``DEVICEFLOW_KEYRING=1`` or ``keyring = true`` in the
config file) and only with a real backend: the Secret Service (GNOME Keyring, KWallet), the macOS
Keychain or the Windows Credential Manager, through the ``keyring`` package (the ``keyring``
extra). When asked but none is usable -- ``keyring`` is not installed, it found no backend
(``keyring.backends.fail``), its ``null`` backend, or the ``keyrings.alt`` backends, which keep
"secrets" in plain files -- :class:`KeyringUnavailableError` says so and how to fix it. There is
never a silent fall back to plaintext: a private ``0600`` file is what you get *without* asking.

Theory of operation:

- :class:`~deviceflow.cache.file.FileTokenCache` still writes one file per profile, still under
  its ``fcntl`` lock, and stays the index (``accounts``, ``logout --all``). For a keyring profile
  that file holds the non-secret members (client id, URLs, account, scopes) with
  ``refresh_token: null``, no access tokens, and a marker ``"secrets": {"store": "keyring",
  "service": ..., "username": ...}`` naming the keyring item.
- The item holds the refresh token and the access tokens (with expiry and scopes) as one JSON
  value, so they change together. A save writes the item first, then the file: a rotated refresh
  token is in the keyring before the lock is released.
- The item's name is ``<profile>@<16 hex digits of the cache directory's path digest>``: two cache
  directories never share items. A profile whose file carries the marker stays in the keyring
  (refreshes without ``--keyring`` keep it there) until ``logout``, which deletes the item before
  the file.
- A missing or unreadable item reads as a profile without tokens (``accounts`` and ``logout``
  still work; ``token`` asks to sign in again).

The ``keyring`` package is imported only when a keyring profile is read or written, or the user
asked for it: the default ``deviceflow token`` path never loads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from deviceflow.cache.base import CacheError

__all__ = [
    "INSTALL_HINT",
    "MARKER",
    "SERVICE",
    "Backend",
    "KeyringSecrets",
    "KeyringUnavailableError",
    "check_backend",
    "default_backend",
    "marker_username",
]

#: The keyring service name of every item deviceflow writes.
SERVICE = "deviceflow"
#: The member of a cache file that says where its secrets are.
MARKER = "secrets"
#: How to get the ``keyring`` package.
INSTALL_HINT = "pip install 'deviceflow[keyring]'"

_FIX = (
    "start a Secret Service such as gnome-keyring in this session, or sign in without "
    "--keyring (and unset DEVICEFLOW_KEYRING) to keep tokens in the private file cache"
)


class KeyringUnavailableError(CacheError):
    """Keyring storage was asked for (or a profile lives there) but no secure backend works."""


class Backend(Protocol):
    """What deviceflow uses of a ``keyring`` backend (``keyring.backend.KeyringBackend``)."""

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


def _refusal(backend: object) -> str | None:
    """Why ``backend`` must not hold tokens, or ``None`` when it is a real keyring."""
    cls = type(backend)
    module, name = cls.__module__, f"{cls.__module__}.{cls.__qualname__}"
    if module == "keyring.backends.fail":
        return "the keyring package found no backend (no D-Bus Secret Service here?)"
    if module == "keyring.backends.null":
        return "the null keyring backend stores nothing"
    if module == "keyrings.alt" or module.startswith("keyrings.alt."):
        return f"{name} keeps secrets in a plain file"
    if module == "keyring.backends.chainer":
        chained = list(getattr(backend, "backends", ()))
        if not chained:
            return "the keyring package found no backend (no D-Bus Secret Service here?)"
        for item in chained:
            reason = _refusal(item)
            if reason is not None:
                return reason
    return None


def check_backend(backend: object) -> None:
    """Refuse a backend that is not a real, encrypted keyring.

    Raises:
        KeyringUnavailableError: ``backend`` is keyring's ``fail`` or ``null`` backend, a
            ``keyrings.alt`` backend, or a chain holding one (or nothing).
    """
    reason = _refusal(backend)
    if reason is not None:
        raise KeyringUnavailableError(f"no usable OS keyring: {reason}; {_FIX}")


def default_backend() -> Backend:
    """The ``keyring`` package's configured backend, once checked by :func:`check_backend`.

    Raises:
        KeyringUnavailableError: the package is missing or its backend is refused.
    """
    try:
        import keyring
    except ImportError:
        raise KeyringUnavailableError(
            f"keyring storage needs the keyring package; install it with: {INSTALL_HINT}"
        ) from None
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration file or backend name
        raise KeyringUnavailableError(f"no usable OS keyring: {_short(exc)}; {_FIX}") from exc
    check_backend(backend)
    return backend


def marker_username(data: Mapping[str, Any]) -> str | None:
    """The keyring item named by a cache file's marker, or ``None`` when it has no marker.

    Raises:
        ValueError: the marker is malformed (the file is corrupt).
    """
    marker = data.get(MARKER)
    if marker is None:
        return None
    if (
        not isinstance(marker, Mapping)
        or marker.get("store") != "keyring"
        or not isinstance(marker.get("service"), str)
        or not isinstance(marker.get("username"), str)
        or not marker["username"]
    ):
        raise ValueError(f"{MARKER!r} must name a keyring item")
    return str(marker["username"])


class KeyringSecrets:
    """Stores the secret members of cache entries (:meth:`CacheEntry.to_dict` form) in a keyring.

    Args:
        backend: the keyring backend; by default :func:`default_backend`, resolved (and
            checked) on first use.
        service: the keyring service name.
    """

    def __init__(self, backend: Backend | None = None, *, service: str = SERVICE) -> None:
        if backend is not None:
            check_backend(backend)
        self._backend = backend
        self.service = service

    @property
    def backend(self) -> Backend:
        """The checked backend.

        Raises:
            KeyringUnavailableError: there is none.
        """
        if self._backend is None:
            self._backend = default_backend()
        return self._backend

    def check(self, directory: str | os.PathLike[str], profile: str) -> None:
        """Make sure the keyring works before a sign-in needs it (reads the profile's item,
        which may prompt to unlock the keyring).

        Raises:
            KeyringUnavailableError: no usable backend, or it refused the read.
        """
        self._call("read", self.backend.get_password, self.username_for(directory, profile))

    def username_for(self, directory: str | os.PathLike[str], profile: str) -> str:
        """The item name of ``profile`` in the cache ``directory``."""
        import hashlib  # only keyring users pay for it

        digest = hashlib.sha256(os.fsencode(os.path.realpath(directory))).hexdigest()[:16]
        return f"{profile}@{digest}"

    def store(self, data: Mapping[str, Any], username: str) -> dict[str, Any]:
        """Write the tokens of ``data`` to item ``username``; return ``data`` without them and
        with the marker naming the item (what the cache file then holds).

        Raises:
            KeyringUnavailableError: the keyring refused the write.
        """
        secret = {
            "version": 1,
            "refresh_token": data.get("refresh_token"),
            "access_tokens": list(data.get("access_tokens") or []),
        }
        self._call("save", self.backend.set_password, username, json.dumps(secret))
        public = dict(data)
        public["refresh_token"] = None
        public["access_tokens"] = []
        public[MARKER] = {"store": "keyring", "service": self.service, "username": username}
        return public

    def fill(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` (a cache file with the marker) with its tokens read back from the keyring;
        without tokens if the item is missing or unreadable.

        Raises:
            ValueError: the marker is malformed.
            KeyringUnavailableError: the keyring refused the read.
        """
        username = marker_username(data)
        full = {k: v for k, v in data.items() if k != MARKER}
        if username is None:
            return full
        raw = self._call("read", self.backend.get_password, username)
        secret = _parse(raw)
        full["refresh_token"] = secret.get("refresh_token")
        full["access_tokens"] = secret.get("access_tokens") or []
        return full

    def delete(self, data: Mapping[str, Any]) -> bool:
        """Delete the item named by ``data``'s marker; return whether it existed.

        Raises:
            ValueError: the marker is malformed.
            KeyringUnavailableError: the keyring refused the deletion.
        """
        username = marker_username(data)
        return False if username is None else self.delete_item(username)

    def delete_item(self, username: str) -> bool:
        """Delete item ``username``; return whether it existed.

        Raises:
            KeyringUnavailableError: the keyring refused the deletion.
        """
        if self._call("read", self.backend.get_password, username) is None:
            return False
        self._call("delete", self.backend.delete_password, username)
        return True

    def _call(self, what: str, method: Callable[..., Any], username: str, *args: str) -> Any:
        try:
            return method(self.service, username, *args)
        except Exception as exc:  # keyring, secretstorage and D-Bus errors alike
            raise KeyringUnavailableError(
                f"the OS keyring refused to {what} the tokens of {username.split('@')[0]!r} "
                f"({type(exc).__name__}: {_short(exc)}); unlock the keyring and try again"
            ) from exc


def _parse(raw: object) -> dict[str, Any]:
    if not isinstance(raw, str):
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(value, dict) or value.get("version") != 1:
        return {}
    if not isinstance(value.get("access_tokens"), list):
        value["access_tokens"] = []
    if not isinstance(value.get("refresh_token"), str):
        value["refresh_token"] = None
    return value


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
