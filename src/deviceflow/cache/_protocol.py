"""The :class:`TokenCache` protocol (re-exported by :mod:`deviceflow.cache.base`).

A module of its own because a ``Protocol`` needs :mod:`typing` at run time, which
``deviceflow token`` does not load.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from deviceflow.cache.base import CacheEntry

__all__ = ["TokenCache"]


class TokenCache(Protocol):
    """Where profiles are kept. Implementations: file (default), memory.

    Callers that refresh hold :meth:`lock` across load → refresh → save, so that concurrent
    processes refresh once and every rotated refresh token is saved before the next one is used.
    """

    def load(self, profile: str) -> CacheEntry | None:
        """Return the profile's entry, or ``None`` when nobody signed in.

        Raises:
            CacheError: the stored entry is unsafe or unreadable (see subclasses).
        """

    def save(self, profile: str, entry: CacheEntry) -> None:
        """Store ``entry`` for ``profile``, replacing the previous one atomically.

        Raises:
            CacheError: the store is unsafe or cannot be written.
        """

    def remove(self, profile: str) -> bool:
        """Forget ``profile``; return whether there was anything to forget.

        Raises:
            CacheError: the store cannot be changed.
        """

    def profiles(self) -> list[str]:
        """Names of the stored profiles, sorted.

        Raises:
            CacheError: the store cannot be listed.
        """

    def lock(self, profile: str) -> AbstractContextManager[None]:
        """A context manager holding the profile's exclusive (cross-process) lock.

        Raises:
            CacheLockTimeoutError: on entering, when the lock stays busy too long.
        """
