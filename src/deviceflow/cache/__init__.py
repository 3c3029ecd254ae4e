"""Token caches: where the CLI keeps tokens between runs (file by default, or memory).

The OS keyring is opt-in (:mod:`deviceflow.cache.keyring`, the ``keyring`` extra): the file cache
then keeps a profile's metadata and lock, the keyring its tokens. It needs a real backend (a
Secret Service, the macOS Keychain); on headless Linux ``keyring`` usually has none, and its
``keyrings.alt`` fallbacks store "plaintext" files, so asking without one is refused (never a
silent fall back to plaintext) and the default stays a ``0600`` file in a ``0700`` directory.

The names below are resolved on first use (PEP 562), like :mod:`deviceflow`'s: importing
:mod:`deviceflow.cache.file` for ``deviceflow token`` does not load the memory cache (threading)
or the :class:`TokenCache` protocol (typing).
"""

# ``typing.TYPE_CHECKING`` without importing typing; type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from deviceflow.cache._protocol import TokenCache
    from deviceflow.cache.base import (
        SCHEMA_VERSION,
        AccessToken,
        Account,
        CacheCorruptError,
        CacheEntry,
        CacheError,
        CacheLockTimeoutError,
        CachePermissionError,
        check_profile_name,
    )
    from deviceflow.cache.file import FileTokenCache, default_cache_dir
    from deviceflow.cache.memory import MemoryTokenCache
del TYPE_CHECKING

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

# Where each public name lives; resolved by ``__getattr__`` on first use.
_MODULES: dict[str, str] = {
    "SCHEMA_VERSION": "deviceflow.cache.base",
    "AccessToken": "deviceflow.cache.base",
    "Account": "deviceflow.cache.base",
    "CacheCorruptError": "deviceflow.cache.base",
    "CacheEntry": "deviceflow.cache.base",
    "CacheError": "deviceflow.cache.base",
    "CacheLockTimeoutError": "deviceflow.cache.base",
    "CachePermissionError": "deviceflow.cache.base",
    "check_profile_name": "deviceflow.cache.base",
    "FileTokenCache": "deviceflow.cache.file",
    "default_cache_dir": "deviceflow.cache.file",
    "MemoryTokenCache": "deviceflow.cache.memory",
    "TokenCache": "deviceflow.cache._protocol",
}


def __getattr__(name: str) -> object:
    """Import the module that defines public ``name``, keep the value here, and return it.

    Raises:
        AttributeError: ``name`` is not a public name of deviceflow.cache.
    """
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'deviceflow.cache' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
