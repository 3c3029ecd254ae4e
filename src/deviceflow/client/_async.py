"""The asyncio driver, :class:`AsyncDeviceFlowClient`: the source of both drivers.

``scripts/unasync.py`` writes the blocking :class:`~deviceflow.client.DeviceFlowClient`
(``_sync.py``) from this file by dropping ``async``/``await`` and renaming the async primitives;
``scripts/lint`` runs it with ``--check``. Edit this file, then run the script. What the drivers
share without I/O lives in :mod:`._base`; the protocol rules live in :mod:`deviceflow.core`.
"""

from __future__ import annotations

from deviceflow.core import DeviceFlowError, TokenIssued, start_retry_delay
from deviceflow.errors import TransportError

from ._base import DEFAULT_TIMEOUT, ClientBase, default_async_sleep, default_async_transport

# ``typing.TYPE_CHECKING`` without importing typing: names for annotations only, so that the first
# use of the client loads no more than it runs; type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from deviceflow._types import AsyncSleeper, Clock
    from deviceflow.core import DeviceCodeIssued, Endpoints, HttpRequest, HttpResponse, Token
    from deviceflow.transports import AsyncTransport

    from ._base import OnPending, ShouldCancel


class AsyncDeviceFlowClient(ClientBase):
    """Sign in with the device flow (RFC 8628) and refresh tokens, from asyncio code.

    Cancel the awaiting task to stop waiting. Example::

        client = AsyncDeviceFlowClient("00000000-0000-0000-0000-000000000000")
        issued = await client.start(["User.Read"])
        print(issued.message)
        token = await client.wait(issued)

    Args:
        client_id: the application (client) id.
        authority: a Microsoft authority such as
            ``https://login.microsoftonline.com/contoso.onmicrosoft.com`` (v2.0 endpoints). The
            default, when neither ``authority``, ``issuer`` nor ``endpoints`` is given, is
            ``https://login.microsoftonline.com/organizations``.
        issuer: a standard OAuth/OIDC issuer, resolved through discovery (OpenID Connect, then
            RFC 8414) on first use.
        endpoints: explicit :class:`~deviceflow.core.Endpoints` (any dialect, e.g. Microsoft v1).
        transport: how to send requests (default
            :class:`~deviceflow.transports.AsyncHttpxTransport` when httpx is installed, otherwise
            :class:`~deviceflow.transports.AsyncUrllibTransport`).
        clock: monotonic clock for waits (default :func:`time.monotonic`).
        sleep: how to wait (default :func:`asyncio.sleep`).
        wall_clock: epoch clock that tokens are stamped with (default :func:`time.time`).
        timeout: seconds allowed per network operation of each HTTP exchange.

    Raises:
        ValueError: more than one of ``authority``, ``issuer`` and ``endpoints``; an empty
            ``client_id``; a malformed ``authority``.
    """

    def __init__(
        self,
        client_id: str,
        *,
        authority: str | None = None,
        issuer: str | None = None,
        endpoints: Endpoints | None = None,
        transport: AsyncTransport | None = None,
        clock: Clock | None = None,
        sleep: AsyncSleeper | None = None,
        wall_clock: Clock | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(
            client_id,
            authority=authority,
            issuer=issuer,
            endpoints=endpoints,
            clock=clock,
            wall_clock=wall_clock,
            timeout=timeout,
        )
        self._owns_transport = transport is None
        self._transport = transport or default_async_transport()
        self._sleep = sleep or default_async_sleep()

    async def start(
        self,
        scopes: Iterable[str] | str = (),
        *,
        resource: str | None = None,
        claims: str | None = None,
    ) -> DeviceCodeIssued:
        """Ask for a device code (RFC 8628 §3.1) and return what to show the user.

        Args:
            scopes: scopes to request (a list, or a space-separated string).
            resource: the v1 ``resource`` (Microsoft v1 endpoints only).
            claims: a claims request (JSON) the tokens must satisfy, such as a resource's claims
                challenge demanding a new sign-in; the polls of this flow carry it.

        Returns:
            The user code, verification URI and deadlines, on this client's monotonic clock.

        Raises:
            TransportError: the request did not complete, on each of ``START_ATTEMPTS`` tries
                (transient faults are retried after 1 s, then 2 s: no code was shown yet).
            OAuthError: the server refused (e.g. ``InvalidClientError``, ``InvalidScopeError``).
            RemoteProtocolError: the server's answer or discovery document is malformed (or a
                5xx/429 answer, once the attempts are used up).
        """
        endpoints = await self._resolve()
        attempt = 0
        while True:
            attempt += 1
            flow = self._new_flow(endpoints, scopes, resource)
            try:
                response = await self._send(flow.start())
                return self._remember(flow.receive(response, self.clock()), flow, claims)
            except DeviceFlowError as exc:
                delay = start_retry_delay(exc, attempt)
                if delay is None:
                    raise
                self._start_failed(exc)
            await self._sleep(delay)

    async def wait(
        self,
        issued: DeviceCodeIssued,
        *,
        on_pending: OnPending | None = None,
        should_cancel: ShouldCancel | None = None,
    ) -> Token:
        """Poll until the user approves (RFC 8628 §3.4, §3.5) and return the token.

        Args:
            issued: the event :meth:`start` returned (each can be waited on once).
            on_pending: called with each ``AuthorizationPending``, ``SlowDown`` or ``Retrying``.
            should_cancel: consulted several times a second while waiting; true stops the wait.

        Returns:
            The token, with ``issued_at`` on the wall clock.

        Raises:
            ExpiredTokenError: the device code expired (reported by the server, or reached
                locally at ``expires_at``) while transient faults were retried.
            AccessDeniedError: the user declined.
            FlowCancelledError: ``should_cancel`` returned true.
            TLSError, InsecureTransportError: a transport fault that retrying cannot cure.
            OAuthError, RemoteProtocolError: other terminal answers.
            LocalProtocolError: ``issued`` did not come from this client, or was waited on.
        """
        flow, claims = self._take(issued)
        while True:
            while step := self._sleep_step(flow, should_cancel):
                await self._sleep(step)
            request = self._claimed(flow.poll(self.clock()), claims)
            try:
                response = await self._send(request)
            except TransportError as exc:
                event: object = self._failed(flow, exc)
            else:
                event = flow.receive(response, self.clock())
            if isinstance(event, TokenIssued):
                return self._rebased(event.token)
            self._report(event, on_pending)

    async def refresh(
        self,
        token_or_refresh_token: Token | str,
        scopes: Iterable[str] | str | None = None,
        *,
        claims: str | None = None,
    ) -> Token:
        """Redeem a refresh token for a new access token (RFC 6749 §6).

        Args:
            token_or_refresh_token: a :class:`Token` with a refresh token, or the refresh token.
            scopes: scopes to ask for; default: the token's scopes (none for a bare string).
            claims: a claims request (JSON) the new token must satisfy: what a resource's claims
                challenge carried (continuous access evaluation).

        Returns:
            The new token (on the wall clock). When the server issues no new refresh token, the
            old one is kept on it.

        Raises:
            LocalProtocolError: the token has no refresh token.
            InvalidGrantError: the refresh token is expired, revoked or already used.
            TransportError, OAuthError, RemoteProtocolError: as for :meth:`start`.
        """
        endpoints = await self._resolve()
        request, refresh_token = self._refresh_request(
            endpoints, token_or_refresh_token, scopes, claims
        )
        return self._refreshed(await self._send(request), refresh_token)

    async def _resolve(self) -> Endpoints:
        if self._endpoints is not None:
            return self._endpoints
        discovery = self._discovery()
        for request in discovery.requests:
            endpoints = self._discovered(discovery, await self._send(request))
            if endpoints is not None:
                return endpoints
        raise discovery.failure()

    async def _send(self, request: HttpRequest) -> HttpResponse:
        started = self.clock()
        try:
            response = await self._transport.handle_async_request(request, timeout=self._timeout)
        except TransportError as exc:
            self._log_exchange(request, started, exc)
            raise
        self._log_exchange(request, started, response)
        return response

    async def aclose(self) -> None:
        """Release the transport's connections, if this client created the transport."""
        close = getattr(self._transport, "aclose", None)
        if self._owns_transport and close is not None:
            await close()

    async def __aenter__(self) -> AsyncDeviceFlowClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
