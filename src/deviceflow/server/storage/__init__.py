"""Storage backends for the authorization server, behind :class:`~.base.Storage`."""

from __future__ import annotations

from deviceflow.server.storage.base import Counter, DeviceGrant, RefreshRecord, Storage


def open_storage(url: str) -> Storage:
    """Open the storage named by ``url``: ``sqlite:///PATH``, ``postgresql://...`` or ``memory:``.

    Raises:
        ValueError: an unsupported URL, or ``postgresql://`` without the ``postgres`` extra.
    """
    if url == "memory:":
        from deviceflow.server.storage.memory import MemoryStorage

        return MemoryStorage()
    if url.startswith("sqlite:///"):
        from deviceflow.server.storage.sqlite import SQLiteStorage

        return SQLiteStorage(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from deviceflow.server.storage.postgres import PostgresStorage
        except ImportError as exc:  # pragma: no cover - the test environment has the extra
            raise ValueError(
                "PostgreSQL needs the postgres extra: pip install 'deviceflow[server,postgres]'"
            ) from exc
        return PostgresStorage(url)
    raise ValueError(
        f"unsupported database URL {url.split(':', 1)[0]!r}:"
        " use sqlite:///PATH, postgresql://... or memory:"
    )


__all__ = ["Counter", "DeviceGrant", "RefreshRecord", "Storage", "open_storage"]
