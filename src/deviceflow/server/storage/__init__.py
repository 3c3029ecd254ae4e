"""Storage backends for the authorization server, behind :class:`~.base.Storage`."""

from __future__ import annotations

from deviceflow.server.storage.base import Counter, DeviceGrant, RefreshRecord, Storage


def open_storage(url: str) -> Storage:
    """Open the storage named by ``url``: ``sqlite:///PATH`` or ``memory:``.

    Raises:
        ValueError: an unsupported URL.
    """
    if url == "memory:":
        from deviceflow.server.storage.memory import MemoryStorage

        return MemoryStorage()
    if url.startswith("sqlite:///"):
        from deviceflow.server.storage.sqlite import SQLiteStorage

        return SQLiteStorage(url.removeprefix("sqlite:///"))
    raise ValueError(
        f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:///PATH or memory:"
    )


__all__ = ["Counter", "DeviceGrant", "RefreshRecord", "Storage", "open_storage"]
