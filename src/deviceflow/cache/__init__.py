"""Token caches: where the CLI keeps tokens between runs (file by default, or memory).

An OS keyring backend is not included: on headless Linux ``keyring`` has no usable backend
without D-Bus and a Secret Service, and its fallbacks store "plaintext" files, which is no better
than a ``0600`` file in a ``0700`` directory.
"""

from __future__ import annotations

from deviceflow.cache.base import (
    SCHEMA_VERSION,
    AccessToken,
    Account,
    CacheCorruptError,
    CacheEntry,
    CacheError,
    CacheLockTimeoutError,
    CachePermissionError,
    TokenCache,
    check_profile_name,
)
from deviceflow.cache.file import FileTokenCache, default_cache_dir
from deviceflow.cache.memory import MemoryTokenCache

__all__ = [
    "SCHEMA_VERSION",
    "AccessToken",
    "Account",
    "CacheCorruptError",
    "CacheEntry",
    "CacheError",
    "CacheLockTimeoutError",
    "CachePermissionError",
    "FileTokenCache",
    "MemoryTokenCache",
    "TokenCache",
    "check_profile_name",
    "default_cache_dir",
]
