"""Storage backends for the authorization server, behind :class:`~.base.Storage`."""

from __future__ import annotations

from deviceflow.server.storage.base import Counter, DeviceGrant, RefreshRecord, Storage

SCHEMES = "sqlite:///PATH, postgresql://USER@HOST[:PORT]/DATABASE or memory:"
"""The database URLs :func:`open_storage` accepts, as error messages name them."""


class DatabaseSetupError(ValueError):
    """The database answered but refuses us for good (it does not exist, an unknown user, a
    wrong password): waiting will not help, someone must act. The message says what to do."""


def check_database_url(url: str) -> None:
    """Refuse a database URL :func:`open_storage` cannot open, before anything starts.

    Raises:
        ValueError: the scheme is not one of :data:`SCHEMES` (the message names only the
            scheme: the rest of the URL may hold a password).
    """
    if url == "memory:" or url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        return
    scheme = url.split(":", 1)[0] if ":" in url else url[:20]
    raise ValueError(f"unsupported database URL {scheme!r}: use {SCHEMES}")


def open_storage(url: str) -> Storage:
    """Open the storage named by ``url``: ``sqlite:///PATH``, ``postgresql://...`` or ``memory:``.

    Raises:
        ValueError: an unsupported URL, or ``postgresql://`` without the ``postgres`` extra.
        DatabaseSetupError: PostgreSQL refuses: no such database, user or password.
        ConnectionError: PostgreSQL cannot be reached.
    """
    check_database_url(url)
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
    raise AssertionError("unreachable: check_database_url accepted the URL")  # pragma: no cover


__all__ = [
    "SCHEMES",
    "Counter",
    "DatabaseSetupError",
    "DeviceGrant",
    "RefreshRecord",
    "Storage",
    "check_database_url",
    "open_storage",
]
