"""The one fake clock of the test suite: a wall clock the test moves by hand.

The server (``create_app``, ``GrantEngine``, the session codec) and the client drivers take
their clock as a parameter; tests pass a :class:`FakeClock` and call :meth:`FakeClock.advance`
instead of sleeping.
"""

from __future__ import annotations

#: Where a :class:`FakeClock` starts unless told otherwise (2030-03-17 17:46:40 UTC).
DEFAULT_START = 1_900_000_000.0


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = DEFAULT_START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
