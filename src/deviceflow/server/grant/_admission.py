"""How many new device flows an address and a client may start (issue 12: each flow stores a
grant, so floods are bounded per address and, from any addresses, per client)."""

from __future__ import annotations

from deviceflow.server.grant._errors import GrantError
from deviceflow.server.grant._services import Services
from deviceflow.server.security import Attempt, Bucket, address_key

__all__ = ["admit_device_flow"]


def admit_device_flow(services: Services, client_id: str, device_ip: str) -> None:
    """Count one new flow against its address and its client.

    Raises:
        GrantError: ``rate_limited`` (429, ``retry_after``) when either is at its limit; a
            refused request counts nowhere.
    """
    limits = services.settings().rate_limits
    window = limits.device_authorization_window
    keys = (
        (
            Bucket("devicecode_ip", limits.device_authorizations_per_ip, window),
            address_key(device_ip),
        ),
        (
            Bucket("devicecode_client", limits.device_authorizations_per_client, window),
            client_id,
        ),
    )
    limiter = services.limiter
    admitted: list[Attempt] = []
    for bucket, key in keys:
        attempt = limiter.admit(bucket, key)  # counted and judged in one statement
        if attempt.refused:
            for earlier in (*admitted, attempt):  # a refused request counts nowhere
                limiter.refund(earlier)
            raise GrantError(
                "rate_limited",
                "too many device authorization requests;"
                f" retry after {attempt.retry_after} seconds",
                status=429,
                retry_after=attempt.retry_after,
                reason="device_authorization_limited",
            )
        admitted.append(attempt)
    for attempt in admitted:
        if attempt.is_last:  # this flow reached the limit: one event per window
            services.audit.event(
                "device_authorization_limit",
                limit=attempt.bucket.prefix,
                client_id=client_id,
                ip=device_ip,
            )
