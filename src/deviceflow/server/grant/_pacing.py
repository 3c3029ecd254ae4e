"""Pending flows answered from memory: a fleet's routine polls and a polling storm cost no
database work.

Theory of operation. Nearly every poll of a fleet is answered ``authorization_pending``, and
judged by storage alone each one is a statement (RFC 8628 §3.5's on-time rule, and the record
of the poll). So the device grant keeps, per flow, a :data:`Pace`: the last poll this instance
accepted, the interval, the expiry, the client and tenant, and until when storage's word that
the flow is pending may be trusted.

- **Pending from memory.** Once this instance has stored a new flow, or storage has accepted
  a poll of a flow on time (the statement reads back the flow's expiry and interval), that
  flow's polls are answered ``authorization_pending`` from the table for
  :data:`TRUST_FOR` seconds, on time by the table's own last poll, without a statement; then
  one poll goes to storage again (and is recorded there), which renews the trust. A decision
  ends the trust at once: a decision made on this instance (approve, deny, test control's
  expire) forgets the flow, and every instance follows storage's log of grant changes
  (:class:`~deviceflow.server.storage.base.GrantChanges`: the flows that were approved,
  denied, revoked or ended, whichever instance or process did it), read at most every
  :data:`FOLLOW_EVERY` seconds before a poll is answered from memory, and forgets the flows
  named there. So a device hears the outcome at its next poll, as when storage judged every
  poll, up to :data:`FOLLOW_EVERY` later when another instance decided. A store without that
  log gets every on-time poll, as before.
- **Early polls.** §3.5: a client that polls before its interval is answered ``slow_down``,
  and "the interval MUST be increased by 5 seconds for this and all subsequent requests".
  A poll early by the table is answered ``slow_down`` without reading the row. The interval
  still grows by :data:`SLOW_DOWN_STEP` per ``slow_down``, up to :data:`MAX_POLL_INTERVAL`
  (or the configured interval, if larger); each increase is written with a compare-and-set,
  so a flow writes at most ``(ceiling - interval) / 5`` times however fast it polls (11 times
  from the default 5 s), and nothing once its interval is at the ceiling. A lost
  compare-and-set (another instance moved the row on) drops the entry: storage decides.

Several instances: each judges the polls it answers by its own table, so storage's
``last_poll_at`` lags behind the polls answered from memory by up to :data:`TRUST_FOR`
seconds. A client whose polls alternate between instances is held to its interval by each
instance for the polls that instance sees (a load balancer that keeps a client on one instance
holds it to the whole rule). After a decision made on another instance, a poll that is early
by this instance's table is still answered ``slow_down`` (it was early; the outcome comes on
its next on-time poll). The table holds at most :data:`MAX_ENTRIES` flows (when it is full,
expired ones go first, then the oldest eighth); forgetting a flow only sends its next poll to
storage.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Final, TypeAlias

from deviceflow.server.storage.base import (
    CHANGES_READ,
    DeviceGrant,
    PendingPoll,
    PollTerms,
    Storage,
    grant_changes_of,
)

SLOW_DOWN_STEP = 5
"""Seconds a ``slow_down`` adds to the interval (RFC 8628 §3.5: "increased by 5 seconds")."""

MAX_POLL_INTERVAL = 60
"""The interval ``slow_down`` raises no further (unless the configured interval is larger):
past it an early poll is still answered ``slow_down``, with the same interval."""

MAX_ENTRIES = 131_072
"""Flows the table remembers at most (about 200 bytes each)."""

TRUST_FOR = 60.0
"""Seconds a flow that storage confirmed pending is answered from memory; its next poll then
goes to storage (and is recorded there)."""

FOLLOW_EVERY = 0.05
"""Seconds between two reads of storage's grant change log, at most: read before a poll is
answered from memory, when the last read is older than this."""

FOLLOW_RETRY = 1.0
"""Seconds after a failed read of the change log before the next one is tried (meanwhile no
flow is trusted: every poll goes to storage, which answers or fails on its own)."""


Pace: TypeAlias = tuple[str, str, float, float | None, int, float]
"""What this instance knows of one flow (replaced, never changed in place), by index:
:data:`CLIENT` and :data:`TENANT` (the flow's client and tenant ids), :data:`EXPIRES` (its
expiry), :data:`LAST` (the last accepted poll this instance knows of; None: none yet),
:data:`INTERVAL` (the interval as stored: every increase is written before it is used) and
:data:`TRUSTED` (until when polls on time are answered pending from memory; 0: storage decides).

A plain tuple of strings and numbers, not a named tuple: the collector stops tracking a plain
one after its first pass, a named tuple (like any other record) stays tracked for its whole
life. With 40,000 flows polled every 5 s, each poll's new entry then counted toward the next
full collection, and every full collection walked the whole table: one every few seconds,
each tens of milliseconds of a stalled event loop."""

CLIENT: Final = 0
TENANT: Final = 1
EXPIRES: Final = 2
LAST: Final = 3
INTERVAL: Final = 4
TRUSTED: Final = 5


class Pacer:
    """The table of :data:`Pace` by device-code digest (see the module docstring)."""

    def __init__(
        self, storage: Storage, ceiling: Callable[[], int], *, max_entries: int = MAX_ENTRIES
    ) -> None:
        self._storage = storage
        self._ceiling = ceiling
        """The interval ``slow_down`` stops at (:data:`MAX_POLL_INTERVAL`, or the configured
        interval when larger)."""
        self._paces: dict[str, Pace] = {}
        self._max = max_entries
        self._changes = grant_changes_of(storage)
        """Storage's grant change log (None: no flow is answered from memory)."""
        self._position: int | None = None
        """The newest change read (None: not read yet, or lost: nothing is trusted)."""
        self._followed_at = float("-inf")
        self._retry_at = float("-inf")

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
        before = pace[INTERVAL]
        interval = self.raised(before)
        if interval != before:
            if not self._storage.update_grant(
                poll.device_hash, {"interval": before}, {"interval": interval}
            ):
                self.forget(poll.device_hash)
                return None
            self._paces[poll.device_hash] = (*pace[:INTERVAL], interval, pace[TRUSTED])
        return before, interval

    def __len__(self) -> int:
        return len(self._paces)

    def pending(self, poll: PendingPoll) -> bool:
        """Whether ``poll`` is answered ``authorization_pending`` from memory: its flow is
        trusted pending and the poll is on time by the table (it becomes the last one)."""
        pace = self._paces.get(poll.device_hash)
        if pace is None:
            return False
        now = poll.now
        if (
            now >= pace[TRUSTED]
            or now >= pace[EXPIRES]
            or pace[CLIENT] != poll.client_id
            or pace[TENANT] != poll.tenant_id
        ):
            return False
        last, leeway = pace[LAST], poll.leeway
        if leeway is not None and last is not None and now - last < pace[INTERVAL] - leeway:
            return False  # early: slow_down (:meth:`slow_down`)
        if self.mark(now) is None:  # the change log, read when its last read is too old
            return False
        paces = self._paces
        if pace[TRUSTED] <= now or paces.get(poll.device_hash) is not pace:
            return False  # the log named it (forgotten), or it could not be read
        paces[poll.device_hash] = (pace[0], pace[1], pace[2], now, pace[4], pace[5])
        return True

    def follow(self, now: float) -> bool:
        """Read storage's change log (from the start: its newest number) and forget the flows
        named there. False when there is no log or it could not be read (nothing is trusted
        then: every entry loses its trust)."""
        changes = self._changes
        if changes is None or now < self._retry_at:
            return False
        try:
            if self._position is None:
                self._position, _ = changes.grant_changes(None)
            else:
                while True:
                    self._position, named = changes.grant_changes(self._position)
                    if named is None:  # fell behind the log: anything may have changed
                        self._distrust_all()
                        break
                    for device_hash in named:
                        self._paces.pop(device_hash, None)
                    if len(named) < CHANGES_READ:
                        break
        except Exception:  # a poll that would be trusted goes to storage, which answers
            self._position = None
            self._retry_at = now + FOLLOW_RETRY
            self._distrust_all()
            return False
        self._followed_at = now
        return True

    def mark(self, now: float) -> int | None:
        """Where the change log was followed to, taken *before* a poll's statement runs (read
        now when its last read is older than :data:`FOLLOW_EVERY`); None: no flow is trusted
        (no log, or it could not be read). :meth:`accepted` trusts the flow only if the log
        has not moved on since: a change read in between could have named it."""
        if self._position is not None and 0.0 <= now - self._followed_at < FOLLOW_EVERY:
            return self._position
        return self._position if self.follow(now) else None

    def _distrust_all(self) -> None:
        paces = self._paces
        for device_hash, pace in paces.items():
            paces[device_hash] = (*pace[:TRUSTED], 0.0)

    def early(self, poll: PendingPoll) -> Pace | None:
        """The flow's :data:`Pace` when ``poll`` is early by it, else None (storage decides)."""
        pace = self._paces.get(poll.device_hash)
        if pace is None or poll.leeway is None:
            return None
        now = poll.now
        if now >= pace[EXPIRES] or pace[CLIENT] != poll.client_id or pace[TENANT] != poll.tenant_id:
            del self._paces[poll.device_hash]
            return None
        last = pace[LAST]
        if last is None or now - last >= pace[INTERVAL] - poll.leeway:
            return None
        return pace

    def accepted(self, poll: PendingPoll, terms: PollTerms, mark: int | None) -> None:
        """Storage accepted ``poll`` as on time (the grant's ``terms`` as it read them): it is
        the flow's last accepted poll, and the flow is trusted pending for :data:`TRUST_FOR`
        when the change log is where it was before the statement (``mark``: :meth:`mark`)."""
        paces, now = self._paces, poll.now
        device_hash = poll.device_hash
        if mark is None or mark != self._position:
            pace = paces.get(device_hash)
            if pace is not None:
                paces[device_hash] = (pace[0], pace[1], pace[2], now, pace[4], pace[5])
            return
        if device_hash not in paces and len(paces) >= self._max:
            self._make_room(now)
        paces[device_hash] = (
            poll.client_id,
            poll.tenant_id,
            terms.expires_at,
            now,
            terms.interval,
            min(now + TRUST_FOR, terms.expires_at),
        )

    def created(self, grant: DeviceGrant, mark: int | None) -> None:
        """This instance stored ``grant``, a new pending flow (the change log at ``mark``
        before the insert): its polls are trusted pending from the first one, as
        :meth:`accepted` trusts them after a statement."""
        paces, now = self._paces, grant.created_at
        if mark is None or mark != self._position:
            return
        if len(paces) >= self._max:
            self._make_room(now)
        paces[grant.device_hash] = (
            grant.client_id,
            grant.tenant_id,
            grant.expires_at,
            None,
            grant.interval,
            min(now + TRUST_FOR, grant.expires_at),
        )

    def remember(self, grant: DeviceGrant, interval: int, now: float) -> None:
        """``grant`` (as read) was answered ``slow_down`` at ``now``, its interval stored as
        ``interval``."""
        paces = self._paces
        if grant.device_hash not in paces and len(paces) >= self._max:
            self._make_room(now)
        paces[grant.device_hash] = (
            grant.client_id,
            grant.tenant_id,
            grant.expires_at,
            grant.last_poll_at,
            interval,
            0.0,
        )

    def forget(self, device_hash: str) -> None:
        """Drop the flow's entry (its row changed under this instance)."""
        self._paces.pop(device_hash, None)

    def _make_room(self, now: float) -> None:
        """The table is full: drop the expired flows, then the oldest until an eighth of it is
        free again (one pass over it per eighth of new flows, never one per new flow)."""
        paces = self._paces
        for key in [k for k, pace in paces.items() if pace[EXPIRES] <= now]:
            del paces[key]
        excess = len(paces) - (self._max - max(1, self._max // 8))
        if excess > 0:
            for key in list(itertools.islice(paces, excess)):
                del paces[key]
