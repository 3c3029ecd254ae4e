"""``python -m bench.unbatched serve ...``: ``deviceflow serve`` without the batched pending poll.

The storage's awaitable ``arecord_poll`` is hidden, so the device grant runs each pending poll
on its own, synchronously (the path every poll took before polls were batched). Only for the
A/B in :mod:`bench.batching` (and ``python -m bench.inprocess --unbatched``); nothing else
differs.
"""

from __future__ import annotations

import sys

from deviceflow.server.storage.postgres import PostgresStorage
from deviceflow.server.storage.sqlite import SQLiteStorage


def hide_batched_poll() -> None:
    """Take ``arecord_poll`` off the storage classes of this process: ``storage.base.async_poll``
    then finds no awaitable poll, and the device grant runs each poll on its own."""
    for backend in (SQLiteStorage, PostgresStorage):
        if "arecord_poll" in vars(backend):
            delattr(backend, "arecord_poll")


def main() -> int:
    hide_batched_poll()
    from deviceflow.cli import main as cli

    return cli()


if __name__ == "__main__":
    sys.exit(main())
