"""Users' presence: what ``/me/presence`` reports and the presence page sets.

Kept in storage as a small named value per user, so every instance of a deployment agrees.
One :class:`Presence` per app (``create_app`` puts it on ``app.state.presence``).
"""

from __future__ import annotations

from starlette.requests import Request

from deviceflow.server.storage.base import Storage

AVAILABILITIES = (
    "Available", "AvailableIdle", "Away", "BeRightBack", "Busy", "BusyIdle",
    "DoNotDisturb", "Offline", "PresenceUnknown",
)  # fmt: skip
"""Graph's ``availability`` values."""

ACTIVITIES = (
    "Available", "Away", "BeRightBack", "Busy", "DoNotDisturb", "InACall",
    "InAConferenceCall", "Inactive", "InAMeeting", "Offline", "OffWork", "OutOfOffice",
    "PresenceUnknown", "Presenting", "UrgentInterruptionsOnly",
)  # fmt: skip
"""Graph's ``activity`` values (the page offers these; any short word is kept)."""

_NAMESPACE = "presence"


class Presence:
    """Each user's ``(availability, activity)``, in storage."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def get(self, user_id: str) -> tuple[str, str]:
        """``(availability, activity)`` of a user; ``("Available", "Available")`` by default."""
        stored = self._storage.get_value(_NAMESPACE, user_id)
        if stored is None:
            return ("Available", "Available")
        availability, _, activity = stored.partition("\t")
        return (availability, activity)

    def set(self, user_id: str, availability: str, activity: str) -> None:
        """Set a user's presence (Graph availability values).

        Raises:
            ValueError: an unknown availability, or an activity that is not a short word.
        """
        if availability not in AVAILABILITIES:
            raise ValueError(f"unknown availability {availability!r}")
        if not activity.isalnum() or len(activity) > 64:
            raise ValueError("activity must be a short word")
        self._storage.put_value(_NAMESPACE, user_id, f"{availability}\t{activity}")


def presence_of(request: Request) -> Presence:
    """The :class:`Presence` of the app serving ``request``."""
    presence = request.app.state.presence
    assert isinstance(presence, Presence)
    return presence
