"""Device-flow policy against device-code phishing (checklist 12, 13, 14, 20).

Theory of operation. In a device-code phishing campaign (Storm-2372, 2024-25) the attacker
starts a flow, sends the user code to a victim with a plausible lure, and the victim approves
the attacker's "device" at the real sign-in page. Nothing in RFC 8628 can tell that device from
a real one, so the server narrows what such an approval can do:

- *proximity* (RFC 10027 "proximity checks"; RFC 8628 §5.4): the approving browser must share
  the device's network, the same public IP or one configured subnet. ``warn`` shows a strong
  warning on the confirm page; ``block`` refuses the approval.
- *protocol tracking*: every token of a device-flow session carries ``origin=device_code``; the
  session may be held to a shorter access-token lifetime and a smaller set of scopes.
- *the switch*: a tenant can turn the flow off (Microsoft's Conditional Access "authentication
  flows" condition; a client already has ``device_flow_enabled``).

A tenant sets the baseline; a client's settings can only make it stricter. This module decides;
it keeps no state and imports no web framework.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from deviceflow.server.grant._errors import GrantError
from deviceflow.server.settings import Client, Proximity, Tenant

Verdict = Literal["ok", "warn", "block"]
_RANK: dict[Proximity, int] = {"off": 0, "warn": 1, "block": 2}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class DevicePolicy:
    """The effective policy for one client in one tenant."""

    enabled: bool
    proximity: Proximity
    trusted_networks: tuple[IPNetwork, ...]
    access_token_lifetime: int | None
    scopes: frozenset[str] | None

    def check_enabled(self, tenant: Tenant) -> None:
        """Refuse a device flow the tenant has turned off.

        The RFC's closest code is ``unauthorized_client`` (RFC 6749 §5.2); the reason lets a
        dialect spell it as its provider does (Entra: a Conditional Access block). ``tenant``
        is not consulted: the policy already holds the tenant's switch.

        Raises:
            GrantError: the tenant does not allow the device code flow.
        """
        if self.enabled:
            return
        description = "the device code flow is blocked by the tenant's policy"
        raise GrantError("unauthorized_client", description, reason="device_flow_blocked")

    def check_scopes(self, scopes: tuple[str, ...]) -> None:
        """Refuse a request for scopes the policy keeps from device-flow sessions.

        Raises:
            GrantError: ``invalid_scope``.
        """
        if self.scopes is None:
            return
        extra = [s for s in scopes if s not in self.scopes]
        if extra:
            raise GrantError(
                "invalid_scope",
                f"not allowed through the device code flow: {' '.join(extra)}",
                reason="scope_not_allowed",
            )

    def restrict(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        """``scopes`` without those the policy forbids (for refreshes after a policy change)."""
        if self.scopes is None:
            return scopes
        return tuple(s for s in scopes if s in self.scopes)

    def access_lifetime(self, default: int) -> int:
        """The access-token lifetime for a device-flow session."""
        if self.access_token_lifetime is None:
            return default
        return min(default, self.access_token_lifetime)

    def judge(self, device_ip: str, approver_ip: str) -> Verdict:
        """Whether an approval from ``approver_ip`` may go on for a device at ``device_ip``."""
        if self.proximity == "off" or same_network(device_ip, approver_ip, self.trusted_networks):
            return "ok"
        return self.proximity


def device_policy(tenant: Tenant, client: Client) -> DevicePolicy:
    """Combine ``tenant``'s policy with ``client``'s (the stricter value of each wins)."""
    proximity = tenant.proximity
    if client.proximity is not None and _RANK[client.proximity] > _RANK[proximity]:
        proximity = client.proximity
    caps = [
        c
        for c in (tenant.device_access_token_lifetime, client.device_access_token_lifetime)
        if c is not None
    ]
    scopes: frozenset[str] | None = None
    for allowed in (tenant.device_scopes, client.device_scopes):
        if allowed is not None:
            scopes = frozenset(allowed) if scopes is None else scopes & frozenset(allowed)
    return DevicePolicy(
        enabled=tenant.device_flow,  # the client's own switch is checked with the client
        proximity=proximity,
        trusted_networks=tuple(
            ipaddress.ip_network(n, strict=False) for n in tenant.trusted_networks
        ),
        access_token_lifetime=min(caps) if caps else None,
        scopes=scopes,
    )


def same_network(a: str, b: str, networks: tuple[IPNetwork, ...] = ()) -> bool:
    """Whether addresses ``a`` and ``b`` are one network: equal, or inside one of ``networks``.

    An address that does not parse (``unknown`` behind a misconfigured proxy) matches nothing,
    so ``block`` fails closed.
    """
    try:
        first, second = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return False
    if isinstance(first, ipaddress.IPv6Address) and first.ipv4_mapped:
        first = first.ipv4_mapped
    if isinstance(second, ipaddress.IPv6Address) and second.ipv4_mapped:
        second = second.ipv4_mapped
    if first == second:
        return True
    return any(first in net and second in net for net in networks)
