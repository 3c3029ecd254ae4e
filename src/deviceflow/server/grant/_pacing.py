"""Early polls answered from memory: a polling storm costs no database work.

Theory of operation. RFC 8628 §3.5: a client that polls before its interval is answered
``slow_down``, and "the interval MUST be increased by 5 seconds for this and all subsequent
requests". Judged by storage alone, every early poll is a failed ``UPDATE``, a read of the row, a
compare-and-set of the interval and a rate-limit counter: a client that ignores ``slow_down``
turns each of its requests into writes, and pushes its interval without bound.

So the device grant keeps, per flow that has been answered ``slow_down`` by this instance, a
:class:`Pace`: the last accepted poll it knows of, the interval, the expiry, the client and
tenant. A poll that is early by those figures is answered ``slow_down`` without a statement.
The interval still grows by :data:`SLOW_DOWN_STEP` per ``slow_down``, up to
:data:`MAX_POLL_INTERVAL` (or the configured interval, if larger); each increase is written
with a compare-and-set, so a flow writes at most ``(ceiling - interval) / 5`` times however
fast it polls (11 times from the default 5 s), and nothing once its interval is at the ceiling.

Several instances: an instance's figures never make a poll early that storage would accept.
Its last accepted poll is at most the stored one (another instance may have accepted a later
poll, which only makes the poll earlier still), and its interval at most the stored one (every
increase is stored before it is used; a lost compare-and-set rereads the row). So a poll the
table calls early would be early by the row too; a poll it calls on time goes to storage as
before, which decides. Every increase is a compare-and-set on the stored interval, and a lost
one sends the poll to storage, so across instances too the interval grows by 5 s per
``slow_down`` answered. Once on time, a client is answered by storage: an honest client (never
early) never has an entry and pays one dictionary lookup.

A decision made on this instance (approve, deny, test control's expire) forgets the flow, so
its next poll, early or not, hears the outcome at once. After a decision made on another
instance an early poll is still answered ``slow_down`` until the client polls on time (it was
early; the answer it is due comes on its next on-time poll). The table
holds at most :data:`MAX_ENTRIES` flows (expired ones go first, then the oldest); forgetting a
flow only sends its next poll to storage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from deviceflow.server.storage.base import DeviceGrant, PendingPoll, Storage

SLOW_DOWN_STEP = 5
"""Seconds a ``slow_down`` adds to the interval (RFC 8628 §3.5: "increased by 5 seconds")."""

MAX_POLL_INTERVAL = 60
"""The interval ``slow_down`` raises no further (unless the configured interval is larger):
past it an early poll is still answered ``slow_down``, with the same interval."""

MAX_ENTRIES = 65_536
"""Flows the table remembers at most (a few hundred bytes each)."""


@dataclass(slots=True)
class Pace:
    """What this instance knows of one flow that was answered ``slow_down``."""

    client_id: str
    tenant_id: str
    expires_at: float
    last_poll_at: float | None
    """The last accepted poll this instance knows of (None: none yet)."""
    interval: int
    """The interval as stored (every increase is written before it is used)."""


class Pacer:
    """The table of :class:`Pace` by device-code digest (see the module docstring)."""

    def __init__(
        self, storage: Storage, ceiling: Callable[[], int], *, max_entries: int = MAX_ENTRIES
    ) -> None:
        self._storage = storage
        self._ceiling = ceiling
        """The interval ``slow_down`` stops at (:data:`MAX_POLL_INTERVAL`, or the configured
        interval when larger)."""
        self._paces: dict[str, Pace] = {}
        self._max = max_entries

    def raised(self, interval: int) -> int:
        """The interval after one more ``slow_down``: 5 s more, never past the ceiling (an
        interval already above it, stored before the ceiling existed, comes down to it)."""
        return min(interval + SLOW_DOWN_STEP, self._ceiling())

    def slow_down(self, poll: PendingPoll) -> tuple[int, int] | None:
        """Answer ``poll`` when it is early by the table: the interval before and after this
        ``slow_down`` (the same at the ceiling), the increase stored by compare-and-set. None
        when storage must decide: the table does not call it early, or the row moved on
        (another instance raised the interval; the entry is dropped)."""
        pace = self.early(poll)
        if pace is None:
            return None
        before = pace.interval
        interval = self.raised(before)
        if interval != before:
            if not self._storage.update_grant(
                poll.device_hash, {"interval": before}, {"interval": interval}
            ):
                self.forget(poll.device_hash)
                return None
            pace.interval = interval
        return before, interval

    def __len__(self) -> int:
        return len(self._paces)

    def early(self, poll: PendingPoll) -> Pace | None:
        """The flow's :class:`Pace` when ``poll`` is early by it, else None (storage decides)."""
        pace = self._paces.get(poll.device_hash)
        if pace is None or poll.leeway is None:
            return None
        now = poll.now
        if (
            now >= pace.expires_at
            or pace.client_id != poll.client_id
            or pace.tenant_id != poll.tenant_id
        ):
            del self._paces[poll.device_hash]
            return None
        last = pace.last_poll_at
        if last is None or now - last >= pace.interval - poll.leeway:
            return None
        return pace

    def accepted(self, poll: PendingPoll) -> None:
        """Storage accepted ``poll`` as on time: it is the flow's last accepted poll now."""
        pace = self._paces.get(poll.device_hash)
        if pace is not None:
            pace.last_poll_at = poll.now

    def remember(self, grant: DeviceGrant, interval: int, now: float) -> None:
        """``grant`` (as read) was answered ``slow_down`` at ``now``, its interval stored as
        ``interval``."""
        paces = self._paces
        if grant.device_hash not in paces and len(paces) >= self._max:
            self._make_room(now)
        paces[grant.device_hash] = Pace(
            grant.client_id, grant.tenant_id, grant.expires_at, grant.last_poll_at, interval
        )

    def forget(self, device_hash: str) -> None:
        """Drop the flow's entry (its row changed under this instance)."""
        self._paces.pop(device_hash, None)

    def _make_room(self, now: float) -> None:
        paces = self._paces
        for key in [k for k, pace in paces.items() if pace.expires_at <= now]:
            del paces[key]
        while len(paces) >= self._max:
            del paces[next(iter(paces))]
