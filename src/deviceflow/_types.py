"""Shared type aliases and protocols for the injectable parts: clocks, sleepers, randomness.

Clocks and randomness are parameters with real defaults (STYLE §32): the client measures waits
with :func:`time.monotonic`, stamps tokens with :func:`time.time`, sleeps with :func:`time.sleep`
(or :func:`asyncio.sleep`), and draws randomness from :func:`secrets.token_bytes`. Tests pass
plain callables instead of monkeypatching.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

#: Returns the current time in seconds (monotonic for waits, epoch seconds for expiry).
Clock: TypeAlias = Callable[[], float]

#: Blocks the calling thread for the given number of seconds.
Sleeper: TypeAlias = Callable[[float], None]

#: Suspends the calling task for the given number of seconds.
AsyncSleeper: TypeAlias = Callable[[float], Awaitable[None]]

#: Returns the given number of cryptographically strong random bytes.
RandomBytes: TypeAlias = Callable[[int], bytes]

__all__ = ["AsyncSleeper", "Clock", "RandomBytes", "Sleeper"]
