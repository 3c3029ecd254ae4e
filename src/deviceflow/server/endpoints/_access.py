"""The access log's summary of routine token polls.

The access log (``deviceflow.server.access``, on at ``deviceflow serve``'s default ``--log-level
info``) writes one line per request: method, path (never the query), status. A fleet of waiting
devices sends thousands of token polls a second that all say the same thing ("not yet"), and a
log line costs about as much as answering the poll, so those answers are counted instead:
``authorization_pending`` and ``slow_down`` answers to device-code polls, per tenant and client,
written as one INFO line per tenant and client every :data:`SUMMARY_PERIOD` seconds while there
are any::

    token polls (10 s): tenant fleet, client dev-1: 12345 authorization_pending, 20 slow_down

Every other request keeps its own line: tokens issued, denials, expiries, unknown codes, errors,
device authorizations, pages. At ``--log-level debug`` every poll gets its line too. The counts
are written by a timer on the event loop (never by a request), and once more when the app stops.
"""

from __future__ import annotations

import asyncio

from deviceflow.server.endpoints._http import POLL_ANSWER, access_logger

SUMMARY_PERIOD = 10.0
"""Seconds between two summary lines of routine token polls."""

ANSWERS = ("authorization_pending", "slow_down")
"""The token-poll answers that are counted, not logged one by one."""

__all__ = ["ANSWERS", "POLL_ANSWER", "SUMMARY_PERIOD", "PollTally"]


class PollTally:
    """Routine token-poll answers counted per tenant and client, logged once per period."""

    def __init__(self, *, period: float = SUMMARY_PERIOD) -> None:
        self.period = period
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def count(self, tenant: str, client_id: str, answer: int) -> None:
        """Count one answer (an index in :data:`ANSWERS`); the first of a period sets the
        timer that writes the summary (outside a running loop: written at :meth:`flush`)."""
        key = (tenant, client_id)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0] * len(ANSWERS)
            if self._timer is None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    pass
                else:
                    self._timer = loop.call_later(self.period, self.flush)
        counts[answer] += 1

    def flush(self) -> None:
        """Write one line per tenant and client counted since the last flush; start over."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        counts, self._counts = self._counts, {}
        for (tenant, client_id), numbers in counts.items():
            access_logger.info(
                "token polls (%g s): tenant %s, client %s: %s",
                self.period,
                tenant,
                client_id,
                ", ".join(f"{n} {answer}" for n, answer in zip(numbers, ANSWERS, strict=True)),
            )
