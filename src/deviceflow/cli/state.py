"""What a profile remembers beside its tokens: where it signs in, refresh history, the last error,
a running agent.

``<profile>.state`` (JSON, ``0600``, atomic replace) sits next to the profile's token file and
holds no secret: the settings of the last successful ``login`` (client id, authority or issuer,
tenant, scopes, resource, Graph URL: :func:`remembered`, read back as the lowest layer of
:func:`deviceflow.cli.settings.resolve_settings`), times, the last error's code and description,
where the agent plans its next refresh. ``logout`` forgets all but the settings, so the next
``login`` needs no flags. ``deviceflow token``, ``login`` and ``agent`` write it while they hold
the profile's lock (so updates never cross); ``status`` and ``doctor`` read it.

``<profile>.agent`` is held with an exclusive ``flock`` by a running ``deviceflow agent`` for its
whole life and holds its process id: a second agent on the same profile is refused, and
``status`` learns whether one runs by trying the lock (a killed agent releases it with its
process, so a stale file never claims a dead agent is alive).

Keep this module light: ``deviceflow token`` imports it (only ``os`` and ``time``; the file is
read with :func:`deviceflow._jsonread.loads`, and :mod:`json` is imported to write it).
"""

from __future__ import annotations

import os
import time

from deviceflow._jsonread import loads
from deviceflow.cache.base import check_profile_name

# ``typing.TYPE_CHECKING`` without importing typing; type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "STATE_VERSION",
    "AgentLock",
    "ProfileState",
    "agent_pid",
    "error_record",
    "iso_time",
    "remembered",
]

STATE_VERSION = 1
_FIELDS = (
    "signed_in_at",  # the last sign-in (login, or the agent's re-link)
    "last_refresh_at",  # the last successful refresh
    "refresh_token_at",  # when the current refresh token was received
    "next_refresh_at",  # when the running agent plans the next one
    "relinked_at",  # the agent's last re-link
    "last_error",  # {"at", "source", "error", "description", "error_codes"}, or None
    "settings",  # where the last login signed in: {"client_id", "authority", "tenant", ...}
)


def iso_time(epoch: float) -> str:
    """ISO 8601 in UTC, to the second: ``2025-06-01T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def error_record(exc: BaseException, *, at: float, source: str) -> dict[str, Any]:
    """The ``last_error`` value for ``exc`` (codes and the server's description, no secret)."""
    error = getattr(exc, "error", None)
    codes = getattr(exc, "error_codes", ())
    description = getattr(exc, "description", None)
    if not isinstance(error, str):
        from deviceflow import errors

        if isinstance(exc, errors.TransportError):
            error = "network_error"
        elif isinstance(exc, errors.RemoteProtocolError):
            error = "protocol_error"
        else:
            error = "error"
        description = str(exc)
    return {
        "at": at,
        "source": source,
        "error": error,
        "description": (description or "")[:500],
        "error_codes": [int(c) for c in codes or ()],
    }


class ProfileState:
    """The ``<profile>.state`` file of a cache directory; ``writer`` names who records errors
    through it (``token``, ``login``, ``agent``)."""

    def __init__(self, directory: str, profile: str, *, writer: str = "token") -> None:
        self.path = os.path.join(directory, check_profile_name(profile) + ".state")
        self.writer = writer
        self._dir = directory

    def read(self) -> dict[str, Any]:
        """Every field (``None`` when unknown); an unreadable file counts as empty."""
        values: dict[str, Any] = dict.fromkeys(_FIELDS)
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = loads(handle.read())
        except (OSError, ValueError):
            return values
        if isinstance(data, dict) and data.get("version") == STATE_VERSION:
            values.update({k: data[k] for k in _FIELDS if k in data})
        return values

    def update(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into the file (atomically) and return the new values.

        Call it while holding the profile's lock. Never raises: the state is a convenience,
        and a full disk must not turn a good refresh into a failure.
        """
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown state field(s): {', '.join(sorted(unknown))}")
        values = self.read()
        values.update(changes)
        if not os.path.isdir(self._dir):
            return values
        import json

        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": STATE_VERSION, **values}, handle, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return values

    def remove(self) -> None:
        """Forget everything."""
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def forget_sign_in(self) -> None:
        """Forget everything but the remembered settings (``logout``)."""
        if not self.read()["settings"]:
            self.remove()
            return
        self.update(**{name: None for name in _FIELDS if name != "settings"})


def remembered(directory: str, profile: str) -> dict[str, Any]:
    """The settings the last ``login`` on ``profile`` used (empty when none, or unreadable)."""
    try:
        values = ProfileState(directory, profile).read()["settings"]
    except ValueError:  # an invalid profile name: the settings resolver says so
        return {}
    return dict(values) if isinstance(values, dict) else {}


def _agent_file(directory: str, profile: str) -> str:
    return os.path.join(directory, check_profile_name(profile) + ".agent")


class AgentLock:
    """Held by a running agent (see the module docstring): :meth:`acquire`, :meth:`release`."""

    def __init__(self, directory: str, profile: str) -> None:
        self.path = _agent_file(directory, profile)
        self._fd = -1

    def acquire(self) -> None:
        """Take the lock and write this process's id in the file.

        Raises:
            BlockingIOError: another agent runs on the profile.
        """
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        """Let go (closing the file releases the ``flock``); nothing when not held."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


def agent_pid(directory: str, profile: str) -> int | None:
    """The process id of the agent running on ``profile``, or ``None`` when none runs."""
    import fcntl

    try:
        fd = os.open(_agent_file(directory, profile), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
