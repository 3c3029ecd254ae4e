"""The transport seam: how an :class:`~deviceflow.core.HttpRequest` becomes an ``HttpResponse``.

A transport sends one request and returns the response, whatever its status: a 400 carrying
``authorization_pending`` or a 503 is a *response*, for the core to judge. A transport raises only
when no response arrived, and then only an exception from the
:class:`~deviceflow.errors.TransportError` family. Transports never follow redirects: a token
request answered with a redirect is the server's protocol error, not a hint to resend a device
code or refresh token somewhere else.

Sync transports implement :class:`Transport`, async ones :class:`AsyncTransport`. The method names
differ so that one object can be both (see :class:`~deviceflow.transports.MockTransport`). Write
your own by providing the method; there is no base class to inherit from.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from deviceflow.core import HttpRequest, HttpResponse

__all__ = ["AsyncTransport", "Transport"]


@runtime_checkable
class Transport(Protocol):
    """Sends requests synchronously."""

    def handle_request(self, request: HttpRequest, *, timeout: float) -> HttpResponse:
        """Send ``request`` and return the server's response, whatever its status.

        Args:
            request: the request to send.
            timeout: seconds allowed for each network operation (connect, send, read).

        Returns:
            The response, including 4xx and 5xx responses.

        Raises:
            TransportError: no response arrived (one of its subclasses, as specific as known).
        """


@runtime_checkable
class AsyncTransport(Protocol):
    """Sends requests asynchronously; cancelling the awaiting task abandons the request."""

    async def handle_async_request(self, request: HttpRequest, *, timeout: float) -> HttpResponse:
        """:meth:`Transport.handle_request`, awaited: the same arguments, result and errors.

        Raises:
            TransportError: no response arrived.
        """
