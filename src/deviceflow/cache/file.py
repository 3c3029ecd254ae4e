"""The default token cache: one JSON file per profile in a private directory.

Theory of operation:

- The directory is created ``0700`` and each file is written ``0600``. Before reading, the cache
  checks that the directory and file belong to the current user and that nobody else can read
  them; if they can, it refuses and prints the ``chmod`` that fixes it (tokens are bearer
  secrets: anyone who can read them can act as the user).
- Writes go to a temporary file in the same directory, are flushed and ``fsync``'d, then moved
  over the old file with ``os.replace`` (atomic on POSIX), and the directory is ``fsync``'d. A
  crash leaves either the old or the new file, never half of one.
- A process killed in the middle of a write leaves its temporary file behind, holding a refresh
  token. A later save deletes the profile's temporary files older than
  :data:`STALE_TEMP_SECONDS` (a write takes milliseconds, so they belong to dead processes), and
  :meth:`FileTokenCache.remove` deletes all of them: ``logout`` leaves no copy of a token.
- A file that cannot be parsed is renamed to ``<profile>.json.corrupt-<time>`` (kept for review,
  never silently overwritten) and reported with :class:`CacheCorruptError`.
- :meth:`FileTokenCache.lock` takes an exclusive ``fcntl.flock`` on ``<profile>.lock``. The CLI
  holds it across "load, refresh, save": the first of ten concurrent ``deviceflow token`` calls
  refreshes, the other nine wait and then find the fresh token, so the refresh token (which the
  server may rotate and revoke on reuse) is used exactly once.
- With ``keyring=`` (opt-in), the tokens go to the OS keyring and the file keeps the rest and a
  ``"secrets"`` marker naming the keyring item; a marked profile stays in the keyring, and
  :meth:`FileTokenCache.remove` deletes its item first. :mod:`deviceflow.cache.keyring` (and the
  ``keyring`` package) are imported only for such profiles.
"""

from __future__ import annotations

import os
import stat
import time

from deviceflow._jsonread import loads
from deviceflow.cache.base import (
    CacheCorruptError,
    CacheEntry,
    CacheError,
    CacheLockTimeoutError,
    CachePermissionError,
    check_profile_name,
)

# ``typing.TYPE_CHECKING`` without importing typing: ``deviceflow token`` loads this module, so
# it avoids typing, pathlib (paths are ``os.path`` strings inside), contextlib, re and json (it
# reads with :func:`deviceflow._jsonread.loads`; only writers import json).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from types import TracebackType

    from deviceflow.cache.keyring import KeyringSecrets

__all__ = ["STALE_TEMP_SECONDS", "FileTokenCache", "default_cache_dir"]

_SUFFIX = ".json"
_TEMP_SUFFIX = ".tmp"
_MARKER = "secrets"  # deviceflow.cache.keyring.MARKER: the tokens are in the OS keyring

#: Age after which a profile's leftover temporary file is debris from a killed writer.
STALE_TEMP_SECONDS = 600.0


def default_cache_dir(environ: Mapping[str, str], home: str | os.PathLike[str]) -> str:
    """The user's state directory for deviceflow.

    ``$XDG_STATE_HOME/deviceflow`` when that variable holds an absolute path (the XDG Base
    Directory rule), else ``~/.local/state/deviceflow``.
    """
    xdg = environ.get("XDG_STATE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "deviceflow")
    return os.path.join(home, ".local", "state", "deviceflow")


class FileTokenCache:
    """Profiles as ``0600`` JSON files in a ``0700`` directory (see the module docstring).

    Args:
        directory: where the files live; created on first write.
        clock: wall clock, used to name set-aside corrupt files.
        sleep: used while waiting for a busy lock.
        lock_timeout: seconds to wait for another process's lock before giving up.
        keyring: when given, saves put the tokens in this OS keyring (a profile already there
            stays there either way).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lock_timeout: float = 60.0,
        keyring: KeyringSecrets | None = None,
    ) -> None:
        self._dir = os.fspath(directory)
        self._clock = clock
        self._sleep = sleep
        self._lock_timeout = lock_timeout
        self.keyring = keyring
        self._secrets = keyring

    def _secret_store(self) -> KeyringSecrets:
        if self._secrets is None:
            from deviceflow.cache.keyring import KeyringSecrets

            self._secrets = KeyringSecrets()
        return self._secrets

    def _keyring_item(self, path: str) -> str | None:
        """The keyring item named by the profile's file on disk, if it has one."""
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError:
            return None
        if _MARKER.encode() not in raw:
            return None
        from deviceflow.cache.keyring import marker_username

        try:
            data = loads(raw.decode("utf-8"))
            return marker_username(data) if isinstance(data, dict) else None
        except ValueError:  # corrupt: load() sets it aside
            return None

    @property
    def directory(self) -> Path:
        """Where the files live."""
        from pathlib import Path

        return Path(self._dir)

    def path(self, profile: str) -> Path:
        """The file that holds ``profile``.

        Raises:
            ValueError: the profile name is not safe to use in a file name.
        """
        from pathlib import Path

        return Path(self._file(profile))

    def _file(self, profile: str, suffix: str = _SUFFIX) -> str:
        return os.path.join(self._dir, check_profile_name(profile) + suffix)

    # -- safety checks -----------------------------------------------------------------------

    def _ensure_directory(self) -> None:
        if not os.path.exists(self._dir):
            try:
                os.makedirs(self._dir, mode=0o700)
            except OSError as exc:
                raise CacheError(f"cannot create the token cache {self._dir}: {exc}") from exc
            # mkdir's mode is filtered by the umask; make sure it is exactly 0700.
            os.chmod(self._dir, 0o700)
        self._check_directory()

    def _check_directory(self) -> None:
        info = os.stat(self._dir)
        if not stat.S_ISDIR(info.st_mode):
            raise CacheError(f"the token cache {self._dir} is not a directory")
        _check_private(info, self._dir, "700")

    # -- TokenCache ------------------------------------------------------------------------

    def load(self, profile: str) -> CacheEntry | None:
        """Return the profile's entry, or ``None`` when there is none.

        Raises:
            CachePermissionError: the directory or file is accessible to other users, or
                belongs to someone else.
            CacheCorruptError: the file could not be parsed; it was renamed aside.
            CacheError: the file was written by a newer deviceflow, or cannot be read.
            KeyringUnavailableError: the tokens are in a keyring that cannot be read.
        """
        path = self._file(profile)
        if not os.path.exists(self._dir):
            return None
        self._check_directory()
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CacheError(f"cannot read the token cache {path}: {exc}") from exc
        with os.fdopen(fd, "rb") as handle:
            _check_private(os.fstat(handle.fileno()), path, "600")
            raw = handle.read()
        try:
            data = loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            version = data.get("version")
            if isinstance(version, int) and not isinstance(version, bool) and version > 1:
                raise CacheError(
                    f"the token cache {path} was written by a newer deviceflow "
                    f"(schema {version}); upgrade deviceflow or use another --cache"
                )
            if _MARKER in data:
                data = self._secret_store().fill(data)
            return CacheEntry.from_dict(data)
        except (ValueError, UnicodeDecodeError) as exc:
            moved = self._set_aside(path)
            raise CacheCorruptError(
                f"the token cache {path} is corrupt ({_short(exc)}); it was moved to {moved} "
                "and kept for review. Run 'deviceflow login' to sign in again.",
                moved_to=moved,
            ) from exc

    def _set_aside(self, path: str) -> str:
        target = f"{path}.corrupt-{int(self._clock())}"
        os.replace(path, target)
        return target

    def save(self, profile: str, entry: CacheEntry) -> None:
        """Write ``entry`` atomically (temp file, fsync, rename, fsync of the directory); its
        tokens go to the keyring first when asked or when the profile is already there.

        Raises:
            KeyringUnavailableError: the keyring is needed but refused the write.
            CachePermissionError: the directory is accessible to other users.
            CacheError: the file cannot be written; the previous file is left untouched.
        """
        path = self._file(profile)
        self._ensure_directory()
        content = entry.to_dict()
        item = self._keyring_item(path)
        if self.keyring is not None or item is not None:
            store = self._secret_store()  # the tokens first: a crash keeps the newest ones
            content = store.store(content, item or store.username_for(self._dir, profile))
        # Only writers need json and tempfile (and their imports): readers start faster.
        import json
        import tempfile

        data = json.dumps(content, indent=1, sort_keys=True).encode("utf-8")

        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=f".{profile}.", suffix=_TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            _unlink_quietly(tmp)
            raise CacheError(f"cannot write the token cache {path}: {exc}") from exc
        _fsync_directory(self._dir)
        self._remove_temp_files(profile, older_than=STALE_TEMP_SECONDS)

    def _remove_temp_files(self, profile: str, *, older_than: float | None) -> int:
        """Delete ``profile``'s temporary files (only those older than ``older_than`` seconds,
        when given: younger ones may belong to a live writer); return how many went."""
        prefix = f".{profile}."  # mkstemp's names: .<profile>.<random, no dot>.tmp
        now = self._clock()
        removed = 0
        try:
            names = os.listdir(self._dir)
        except OSError:  # pragma: no cover - the directory vanished under us
            return 0
        for name in names:
            middle = name[len(prefix) : -len(_TEMP_SUFFIX)]
            if not (
                name.startswith(prefix)
                and name.endswith(_TEMP_SUFFIX)
                and len(name) > len(prefix) + len(_TEMP_SUFFIX)
                and "." not in middle
            ):
                continue
            path = os.path.join(self._dir, name)
            try:
                if older_than is not None and now - os.lstat(path).st_mtime < older_than:
                    continue
                os.unlink(path)
            except OSError:  # pragma: no cover - removed by another process meanwhile
                continue
            removed += 1
        return removed

    def remove(self, profile: str) -> bool:
        """Delete the profile's file, and any temporary file a killed writer left; return
        whether the profile's file existed. A keyring profile's item goes first.

        Raises:
            KeyringUnavailableError: the keyring refused to delete the item (the file stays).
            CacheError: the file exists but cannot be deleted.
        """
        path = self._file(profile)
        item = self._keyring_item(path)
        if item is not None:
            self._secret_store().delete_item(item)  # before the file that names it
        debris = (
            self._remove_temp_files(profile, older_than=None) if os.path.exists(self._dir) else 0
        )
        try:
            os.unlink(path)
        except FileNotFoundError:
            if debris:
                _fsync_directory(self._dir)
            return False
        except OSError as exc:
            raise CacheError(f"cannot delete the token cache {path}: {exc}") from exc
        _fsync_directory(self._dir)
        return True

    def profiles(self) -> list[str]:
        """Names of the stored profiles, sorted.

        Raises:
            CachePermissionError: the directory is accessible to other users.
        """
        if not os.path.exists(self._dir):
            return []
        self._check_directory()
        names = []
        for name in os.listdir(self._dir):
            if name.endswith(_SUFFIX) and not name.startswith("."):
                names.append(name[: -len(_SUFFIX)])
        return sorted(names)

    def lock(self, profile: str) -> _ProfileLock:
        """A context manager holding the exclusive cross-process lock of ``profile``.

        Raises:
            CacheLockTimeoutError: on entering, when another process kept the lock longer than
                ``lock_timeout``.
            CachePermissionError: on entering, when the directory is accessible to other users.
        """
        return _ProfileLock(self, self._file(profile, ".lock"))


class _ProfileLock:
    """``with cache.lock(profile):`` -- an ``fcntl.flock`` on ``<profile>.lock`` (a class rather
    than ``@contextmanager``: ``deviceflow token`` does not import contextlib)."""

    def __init__(self, cache: FileTokenCache, path: str) -> None:
        self._cache = cache
        self._path = path
        self._fd = -1

    def __enter__(self) -> None:
        import fcntl

        cache = self._cache
        cache._ensure_directory()
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = cache._clock() + cache._lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if cache._clock() >= deadline:
                        raise CacheLockTimeoutError(
                            f"another deviceflow process has held {self._path} for more than "
                            f"{cache._lock_timeout:g} s; try again"
                        ) from None
                    cache._sleep(0.02)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        import fcntl

        fd, self._fd = self._fd, -1
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _check_private(info: os.stat_result, name: str, mode: str) -> None:
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise CachePermissionError(
            f"refusing to use the token cache {name}: it belongs to another user "
            f"(uid {info.st_uid}); use your own --cache directory"
        )
    if info.st_mode & 0o077:
        raise CachePermissionError(
            f"refusing to use the token cache {name}: other users can access it "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); fix it with: chmod {mode} {name}"
        )


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:  # pragma: no cover - already gone
        pass


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
