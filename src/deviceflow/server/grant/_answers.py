"""What a device code poll answers (RFC 8628 §3.5), as values the way the client core answers
with events: :data:`AUTHORIZATION_PENDING`, a :class:`SlowDown`, or the tokens; terminal
outcomes are raised as :class:`~._errors.GrantError` and counted by :class:`CountedErrors`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from deviceflow.server.grant._errors import GrantError
from deviceflow.server.grant._types import IssuedTokens
from deviceflow.server.metrics import poll_outcome

__all__ = [
    "AUTHORIZATION_PENDING",
    "AuthorizationPending",
    "CountedErrors",
    "PollOutcome",
    "SlowDown",
]


@dataclass(frozen=True, slots=True)
class AuthorizationPending:
    """``authorization_pending`` (§3.5): the user has not finished; poll again later."""

    def error(self) -> GrantError:
        """The error response this answer is sent as (a new one per call: keep it)."""
        return GrantError(
            "authorization_pending", "the user has not yet finished", reason="pending"
        )


@dataclass(frozen=True, slots=True)
class SlowDown:
    """``slow_down`` (§3.5): polled too soon; from now on poll every ``interval`` seconds."""

    interval: int

    def error(self) -> GrantError:
        """The error response this answer is sent as."""
        return GrantError("slow_down", f"poll at most every {self.interval} seconds")


AUTHORIZATION_PENDING = AuthorizationPending()
"""The one pending answer (a poll never builds another)."""

PollOutcome = AuthorizationPending | SlowDown | IssuedTokens
"""What :meth:`~.device.DeviceCodeGrant.poll` answers when it does not raise."""


class CountedErrors:
    """``with``: a :class:`GrantError` leaving the block is counted by its error (one object
    per grant, reused by every poll: no allocation on the hot path)."""

    __slots__ = ("_polled",)

    def __init__(self, polled: Callable[[str], None]) -> None:
        self._polled = polled

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> Literal[False]:
        if isinstance(exc, GrantError):
            self._polled(poll_outcome(exc.error))
        return False
