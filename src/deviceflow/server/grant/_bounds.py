"""Bounds on what a request may make the server store (issue 12), kept in this one place.

A device authorization request stores a grant, and the grant keeps two things the request
itself said about the device, to show them on the confirm page: its address and its
``User-Agent``; each refresh token keeps the same two of the token request that got it (the
"your devices" page). Both come off the network unchecked, so :func:`bounded_device` clips them to
the lengths below before anything stores them (a longer value keeps its beginning and ends in
``…``). Nothing else the server stores is free text from a request: client ids, tenants and
scopes must match the configuration, codes and tokens are stored as digests, the other stored
fields are the server's own values, and rate-limit counters are keyed by these addresses or by
digests. ``docs/security.md`` lists the bounds.
"""

from __future__ import annotations

USER_AGENT_CHARS = 256
"""A device's ``User-Agent`` as stored and shown (real ones are well under 200 characters)."""
ADDRESS_CHARS = 64
"""A device's address as stored and counted (an IPv6 address with a zone id fits)."""

_MORE = "…"


def clip(text: str, limit: int) -> str:
    """``text`` when it has at most ``limit`` characters, else its start and ``…`` (``limit``
    characters in all)."""
    return text if len(text) <= limit else text[: limit - len(_MORE)] + _MORE


def bounded_device(device_ip: str, user_agent: str | None) -> tuple[str, str | None]:
    """The device's address and ``User-Agent`` as the server stores them (clipped)."""
    agent = None if user_agent is None else clip(user_agent, USER_AGENT_CHARS)
    return clip(device_ip, ADDRESS_CHARS), agent
