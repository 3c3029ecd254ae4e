"""The purge of expired rows: grants, refresh records and rate-limit counters (issue 12).

Theory of operation. Nothing else deletes a device grant once it has expired (a new user code
only replaces an expired holder of the same code), so a flood of device authorizations would
stay stored for good; refresh records of rotated tokens and counters of addresses seen once
pile up the same way. A :class:`Purger` runs :meth:`Storage.purge_expired
<deviceflow.server.storage.base.Storage.purge_expired>` at startup and then every
``purge_interval`` seconds, for as long as the app's lifespan lasts (``create_app`` starts it).

A row goes ``expired_retention`` seconds after it expired, not at once: meanwhile a late poll
still hears ``expired_token`` (not "unknown code"), a person typing an expired code sees the
"expired" page, and a replayed device code still revokes what it obtained. Counters go with the
same delay (a counter past its window already counts as zero, so nothing changes for them).

Every instance of a deployment runs its own purger: each purge is one ``DELETE`` per table, so
instances purging at the same moment delete each row once and wait for nothing else. The purge
runs in a worker thread (a large delete must not stall the event loop) and never on a request's
path; a failed purge is logged in one line and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, dataclass

from deviceflow.server.storage.base import Storage

logger = logging.getLogger("deviceflow.server.purge")


@dataclass(frozen=True)
class Purger:
    """Deletes what expired more than ``retention`` seconds ago, every ``interval`` seconds.

    Args:
        storage: Where the rows are.
        clock: Wall-clock seconds since the epoch (the time rows expire by).
        interval: Seconds between two purges (``purge_interval``).
        retention: Seconds an expired row is kept (``lifetimes.expired_retention``).
    """

    storage: Storage
    _: KW_ONLY
    clock: Callable[[], float]
    interval: float
    retention: float

    def purge(self) -> int:
        """Purge once, now; return how many rows went.

        Raises:
            Exception: whatever the storage raises (:meth:`run` logs it and goes on).
        """
        removed = self.storage.purge_expired(self.clock() - self.retention)
        if removed:
            logger.info("purged %d expired rows (grants, refresh tokens, counters)", removed)
        return removed

    async def run(self, stop: asyncio.Event) -> None:
        """Purge now, then every :attr:`interval` seconds until ``stop`` is set.

        The first purge always runs. A purge under way when ``stop`` is set finishes first (it
        is not cancelled in its thread), so storage is never closed under it.
        """
        while True:
            try:
                await asyncio.to_thread(self.purge)
            except Exception as exc:  # a database hiccup must not end the schedule
                logger.warning(
                    "purge of expired rows failed (%s); next try in %gs", exc, self.interval
                )
            if stop.is_set():
                return
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                continue
            return

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Purge on schedule in the background while the block runs (the app's lifespan)."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop), name="deviceflow-purge")
        try:
            yield
        finally:
            stop.set()
            await task
