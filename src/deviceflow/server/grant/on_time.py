"""The on-time rule of a pending poll (RFC 8628 §3.5), once in Python and once in SQL.

The device grant (:mod:`.device`) judges polls by :func:`polled_on_time`; a store that keeps
rows in memory applies :func:`accepts_pending_poll`, and the SQL stores build their one
statement from :func:`pending_poll_sql`, so every store accepts exactly the same polls.
"""

from __future__ import annotations

from deviceflow.server.storage.base import DeviceGrant, PendingPoll

__all__ = ["accepts_pending_poll", "pending_poll_sql", "polled_on_time"]


def polled_on_time(now: float, last: float | None, interval: float, leeway: float) -> bool:
    """Whether a poll at ``now`` is on time for a grant last polled at ``last``.

    §3.5: "the client SHOULD wait at least the number of seconds specified by the interval
    parameter"; measured from the last accepted poll, less ``leeway`` for network jitter. The
    first poll is always on time.
    """
    return last is None or now - last >= interval - leeway


def accepts_pending_poll(grant: DeviceGrant, poll: PendingPoll) -> bool:
    """Whether storage's one statement accepts ``poll`` for ``grant`` (the rule of
    :func:`pending_poll_sql`, for a store that keeps rows in memory)."""
    return (
        grant.status == "pending"
        and grant.expires_at > poll.now
        and (grant.client_id, grant.tenant_id) == (poll.client_id, poll.tenant_id)
        and (
            poll.leeway is None
            or polled_on_time(poll.now, grant.last_poll_at, grant.interval, poll.leeway)
        )
    )


def pending_poll_sql(placeholder: str) -> tuple[str, str]:
    """The pending poll's rule as two SQL conditions on ``device_grants``: ``(live, on_time)``.

    ``live``: the grant is pending, unexpired at ``now``, of this client and tenant;
    ``on_time``: :func:`polled_on_time`. Parameters are the fields of
    :class:`~deviceflow.server.storage.base.PendingPoll`, spelled by ``placeholder`` with
    ``{name}`` and ``{n}`` (its 1-based position): ``"?{n}"``, ``"${n}"``, ``"%({name})s"``.
    """
    now, device_hash, client_id, tenant_id, leeway = (
        placeholder.format(name=name, n=n) for n, name in enumerate(PendingPoll._fields, 1)
    )
    live = (
        f"device_hash = {device_hash} AND client_id = {client_id} AND tenant_id = {tenant_id}"
        f" AND status = 'pending' AND expires_at > {now}"
    )
    return live, f"(last_poll_at IS NULL OR {now} - last_poll_at >= interval - {leeway})"
