"""Believe ``X-Forwarded-For`` and ``X-Forwarded-Proto`` from the configured proxies only.

Theory of operation: a forwarded header is a claim made by whoever sent the request. It says
something true only when the sender is a reverse proxy of this deployment, which overwrites or
appends to it; anyone else can write any address there, and then pick a fresh one for each
guess past the per-address limits, or pose as the device's network for ``proximity = "block"``.
So the ASGI server's own proxy handling is off (``deviceflow serve`` passes
``proxy_headers=False`` to uvicorn, whose default trusts loopback), and this layer, installed by
:func:`deviceflow.server.app.create_app` only when ``trusted_proxies`` names some, rewrites the
request's client address:

- the connection's peer must be a trusted proxy, else nothing changes;
- ``X-Forwarded-For`` is read from the right (each proxy appends the address it saw): each
  trusted proxy vouches for the hop before it, and the first address that is not a trusted proxy
  is the client;
- a hop that is not an IP address (``unknown``, a name, garbage) stops the walk: the client is
  then the last trusted proxy, whose address limits and proximity checks use (fail closed);
- ``X-Forwarded-Proto`` (the last value, from the nearest proxy) sets the scheme when it is
  ``http`` or ``https``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str) -> str | None:
    """The canonical form of an address in a forwarded header, or None if it is not one.

    Accepts ``192.0.2.1``, ``192.0.2.1:4711``, ``2001:db8::1`` and ``[2001:db8::1]:4711``.
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class TrustedProxies:
    """ASGI layer: take the client address and scheme from the trusted proxies' headers."""

    def __init__(self, app: ASGIApp, *, proxies: Iterable[str]) -> None:
        self.app = app
        self.networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(p, strict=False) for p in proxies
        )

    def trusts(self, address: str) -> bool:
        """Whether ``address`` belongs to a configured proxy."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_of(self, peer: str, forwarded_for: list[str]) -> str:
        """The client address behind ``peer`` (see the module docstring)."""
        client = peer
        hops = [hop for value in forwarded_for for hop in value.split(",")]
        while hops and self.trusts(client):
            hop = parse_address(hops.pop())
            if hop is None:
                break
            client = hop
        return client

    def forwarded(self, scope: Scope) -> Scope:
        """``scope``, or a copy with the client and scheme the trusted proxies forwarded (the
        token hot path calls this itself: ``endpoints._hotpath``)."""
        peer = scope.get("client")
        if scope["type"] == "http" and peer and self.trusts(peer[0]):
            forwarded: list[str] = []
            proto = None
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded.append(value.decode("latin-1"))
                elif name == b"x-forwarded-proto":
                    proto = value.decode("latin-1").split(",")[-1].strip().lower()
            scope = dict(scope)
            client = self.client_of(str(peer[0]), forwarded)
            if client != peer[0]:
                scope["client"] = (client, 0)
            if proto in ("http", "https"):
                scope["scheme"] = proto
        return scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(self.forwarded(scope), receive, send)
