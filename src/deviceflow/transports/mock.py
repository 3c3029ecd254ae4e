"""A transport that answers from a function: for unit tests, docs and offline experiments.

Example::

    from deviceflow.core import HttpResponse
    from deviceflow.transports import MockTransport

    def handler(request):
        return HttpResponse(status=400, body=b'{"error": "authorization_pending"}')

    transport = MockTransport(handler)

The handler receives each :class:`~deviceflow.core.HttpRequest` and returns an
:class:`~deviceflow.core.HttpResponse`, or raises a
:class:`~deviceflow.errors.TransportError` to act out a network fault. The same object works with
the sync and the async client; for the async one the handler may also be a coroutine function.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from deviceflow.core import HttpRequest, HttpResponse

__all__ = ["MockTransport"]

Handler = Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]


class MockTransport:
    """Answer every request by calling ``handler(request)``.

    Args:
        handler: returns the response for a request, or raises a ``TransportError``.

    Attributes:
        requests: every request received, in order (handy for assertions).
        timeouts: the ``timeout`` passed with each request, in order.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[HttpRequest] = []
        self.timeouts: list[float] = []

    def handle_request(self, request: HttpRequest, *, timeout: float = 30.0) -> HttpResponse:
        """Record ``request`` and return ``handler(request)``.

        Raises:
            TypeError: the handler returned an awaitable (use the async client for those).
            Exception: whatever the handler raises.
        """
        self.requests.append(request)
        self.timeouts.append(timeout)
        response = self.handler(request)
        if inspect.isawaitable(response):
            close = getattr(response, "close", None)
            if close is not None:
                close()  # do not leave a never-awaited coroutine behind
            raise TypeError("an async handler needs the async client (handle_async_request)")
        return response

    async def handle_async_request(
        self, request: HttpRequest, *, timeout: float = 30.0
    ) -> HttpResponse:
        """Record ``request`` and return ``handler(request)``, awaited if it is awaitable.

        Raises:
            Exception: whatever the handler raises.
        """
        self.requests.append(request)
        self.timeouts.append(timeout)
        response = self.handler(request)
        if inspect.isawaitable(response):
            response = await response
        return response
