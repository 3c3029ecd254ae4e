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

from deviceflow import _lazy_attributes

# ``typing.TYPE_CHECKING`` without importing typing; type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:  # the public names for type checkers (``X as X``: re-exported)
    from deviceflow.cache._protocol import TokenCache as TokenCache
    from deviceflow.cache.base import SCHEMA_VERSION as SCHEMA_VERSION
    from deviceflow.cache.base import AccessToken as AccessToken
    from deviceflow.cache.base import Account as Account
    from deviceflow.cache.base import CacheCorruptError as CacheCorruptError
    from deviceflow.cache.base import CacheEntry as CacheEntry
    from deviceflow.cache.base import CacheError as CacheError
    from deviceflow.cache.base import CacheLockTimeoutError as CacheLockTimeoutError
    from deviceflow.cache.base import CachePermissionError as CachePermissionError
    from deviceflow.cache.base import check_profile_name as check_profile_name
    from deviceflow.cache.file import FileTokenCache as FileTokenCache
    from deviceflow.cache.file import default_cache_dir as default_cache_dir
    from deviceflow.cache.memory import MemoryTokenCache as MemoryTokenCache
del TYPE_CHECKING

# Where each public name lives, resolved by ``__getattr__`` on first use; ``__all__`` is these.
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

__all__ = sorted(_MODULES)
__getattr__, __dir__ = _lazy_attributes(globals(), _MODULES)
