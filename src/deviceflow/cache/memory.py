"""An in-process token cache, for tests and for programs that keep tokens only while running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from deviceflow.cache.base import CacheEntry, check_profile_name

__all__ = ["MemoryTokenCache"]


class MemoryTokenCache:
    """Profiles in a dictionary; :meth:`lock` is a per-profile thread lock."""

    def __init__(self) -> None:
        self._entries: dict[str, CacheEntry] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    def load(self, profile: str) -> CacheEntry | None:
        """Return the profile's entry, or ``None``.

        Raises:
            ValueError: the profile name is not valid.
        """
        return self._entries.get(check_profile_name(profile))

    def save(self, profile: str, entry: CacheEntry) -> None:
        """Store ``entry`` for ``profile``.

        Raises:
            ValueError: the profile name is not valid.
        """
        self._entries[check_profile_name(profile)] = entry

    def remove(self, profile: str) -> bool:
        """Forget ``profile``; return whether it was stored.

        Raises:
            ValueError: the profile name is not valid.
        """
        return self._entries.pop(check_profile_name(profile), None) is not None

    def profiles(self) -> list[str]:
        """Names of the stored profiles, sorted. Raises: nothing."""
        return sorted(self._entries)

    @contextmanager
    def lock(self, profile: str) -> Iterator[None]:
        """Hold the profile's lock (re-entrant within one thread).

        Raises:
            ValueError: the profile name is not valid.
        """
        with self._guard:
            lock = self._locks.setdefault(check_profile_name(profile), threading.RLock())
        with lock:
            yield
