"""DeviceFlowClient and AsyncDeviceFlowClient: drive the sans-I/O core with a transport and a clock.

Theory of operation. The core (:class:`deviceflow.core.DeviceFlow`) decides everything about the
protocol: which request to send, what a response means, and when the next poll is due
(``next_poll_at``: the interval, ``slow_down``'s +5 s, ``Retry-After``, capped exponential
back-off after transient faults, padding for clock drift, never past ``expires_at``). A driver
here only does the I/O: it sends the request through the transport, sleeps until the deadline the
core gave it, and turns transport faults into ``flow.transport_failed(...)`` so that a refused or
dropped connection, a timeout, an HTTP 5xx or a 429 is retried rather than fatal (RFC 8628 §3.5:
"the client SHOULD ... reduce its polling frequency" after a connection timeout).

Two clocks are involved: waits are measured on a monotonic clock (``clock``, default
:func:`time.monotonic`) so that a wall-clock jump cannot shorten or stretch them; the token handed
back is re-based on the wall clock (``wall_clock``, default :func:`time.time`) so that
``token.expires_at`` is an epoch time that can be stored. Times in :class:`DeviceCodeIssued` and
the pending events are on the monotonic clock: use ``issued.expires_at - client.clock()`` for the
time left.

The sync and async drivers differ only by ``async``/``await`` and the names of the I/O
primitives; everything else lives in :class:`_ClientBase`. A unit test checks that the two
sources stay identical modulo those substitutions.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from urllib.parse import urlsplit

from deviceflow._types import AsyncSleeper, Clock, Sleeper
from deviceflow.core import (
    AuthorizationPending,
    DeviceCodeIssued,
    DeviceFlow,
    Endpoints,
    HttpRequest,
    HttpResponse,
    Retrying,
    SlowDown,
    Token,
    TokenIssued,
    discovery_requests,
    endpoints_from_metadata,
    microsoft_endpoints,
    parse_token_response,
    refresh_request,
)
from deviceflow.errors import (
    DeviceFlowError,
    FlowCancelledError,
    LocalProtocolError,
    OAuthError,
    RemoteProtocolError,
    TransportError,
)
from deviceflow.transports import AsyncTransport, AsyncUrllibTransport, Transport, UrllibTransport

__all__ = ["AsyncDeviceFlowClient", "DeviceFlowClient", "PendingEvent"]

logger = logging.getLogger("deviceflow.client")

#: The authority used when none of ``authority``, ``issuer`` or ``endpoints`` is given.
DEFAULT_AUTHORITY = "https://login.microsoftonline.com/organizations"

#: Seconds allowed per network operation of one HTTP exchange.
DEFAULT_TIMEOUT = 30.0

# How often ``should_cancel`` is consulted while waiting for the next poll.
_CANCEL_CHECK_SECONDS = 0.25

#: How many times ``start()`` sends the device authorization request before giving up.
START_ATTEMPTS = 3

PendingEvent = AuthorizationPending | SlowDown | Retrying
OnPending = Callable[[PendingEvent], object]
ShouldCancel = Callable[[], bool]


def _start_retry_delay(exc: DeviceFlowError, attempt: int) -> float:
    """Seconds to wait before sending the device authorization request again; else re-raise.

    Only faults that say nothing about the request itself are retried: a dropped or refused
    connection, a timeout, or a 408/429/5xx answer. Nothing was shown to the user yet, so a new
    request loses nothing; a refusal (``invalid_client``, ``invalid_scope``) is final at once.
    """
    if isinstance(exc, TransportError):
        transient = exc.is_transient
    elif isinstance(exc, (RemoteProtocolError, OAuthError)):
        status = exc.status or 0
        transient = status in (408, 429) or 500 <= status <= 599
    else:
        transient = False
    if not transient or attempt >= START_ATTEMPTS:
        raise exc
    logger.info("device authorization failed (%s); retrying", type(exc).__name__)
    return float(2 ** (attempt - 1))


def fingerprint(secret: str) -> str:
    """A short, non-reversible tag for logging a secret's identity (never the secret itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def _scope_tuple(scopes: Iterable[str] | str | None) -> tuple[str, ...]:
    if scopes is None:
        return ()
    if isinstance(scopes, str):
        return tuple(scopes.split())
    return tuple(scopes)


def _url_for_log(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class _ClientBase:
    """Configuration and bookkeeping shared by both drivers; no I/O."""

    def __init__(
        self,
        client_id: str,
        *,
        authority: str | None,
        issuer: str | None,
        endpoints: Endpoints | None,
        clock: Clock | None,
        wall_clock: Clock | None,
        timeout: float,
    ) -> None:
        if sum(option is not None for option in (authority, issuer, endpoints)) > 1:
            raise ValueError("pass at most one of authority, issuer and endpoints")
        if not client_id:
            raise ValueError("client_id must not be empty")
        if endpoints is None and issuer is None:
            # The tenant is the authority's last path segment (microsoft_endpoints parses it).
            endpoints = microsoft_endpoints(authority=authority or DEFAULT_AUTHORITY)
        self.client_id = client_id
        self.clock: Clock = clock or time.monotonic
        self.wall_clock: Clock = wall_clock or time.time
        self._endpoints = endpoints
        self._issuer = issuer
        self._timeout = timeout
        self._flows: dict[int, tuple[DeviceCodeIssued, DeviceFlow]] = {}
        self._discovery_error: RemoteProtocolError | None = None

    @property
    def endpoints(self) -> Endpoints | None:
        """The endpoints in use, or ``None`` until an ``issuer`` has been discovered."""
        return self._endpoints

    def _new_flow(
        self, endpoints: Endpoints, scopes: Iterable[str] | str, resource: str | None
    ) -> DeviceFlow:
        return DeviceFlow(self.client_id, endpoints, scopes=_scope_tuple(scopes), resource=resource)

    def _remember(self, issued: object, flow: DeviceFlow) -> DeviceCodeIssued:
        assert isinstance(issued, DeviceCodeIssued)  # what receive() returns after start()
        self._flows[id(issued)] = (issued, flow)
        logger.info(
            "device code %s issued; expires in %.0f s, polling every %.0f s",
            fingerprint(issued.user_code),
            issued.expires_at - self.clock(),
            issued.interval,
        )
        return issued

    def _take(self, issued: DeviceCodeIssued) -> DeviceFlow:
        entry = self._flows.pop(id(issued), None)
        if entry is None or entry[0] is not issued:
            raise LocalProtocolError(
                "wait() needs the DeviceCodeIssued returned by this client's start(), once"
            )
        return entry[1]

    def _adopt_metadata(self, response: HttpResponse) -> Endpoints | None:
        """Endpoints from a discovery answer, or ``None`` to try the next well-known URL."""
        assert self._issuer is not None
        if not 200 <= response.status <= 299:
            return None
        try:
            endpoints = endpoints_from_metadata(response, issuer=self._issuer)
        except RemoteProtocolError as exc:
            logger.info("discovery document unusable: %s", exc)
            self._discovery_error = exc
            return None
        self._endpoints = endpoints
        return endpoints

    def _no_metadata(self) -> RemoteProtocolError:
        if self._discovery_error is not None:
            return self._discovery_error
        return RemoteProtocolError(
            f"no usable discovery document (with a device_authorization_endpoint) for issuer "
            f"{self._issuer}"
        )

    def _refresh_request(
        self,
        endpoints: Endpoints,
        token_or_refresh_token: Token | str,
        scopes: Iterable[str] | str | None,
    ) -> tuple[HttpRequest, str]:
        if isinstance(token_or_refresh_token, Token):
            refresh_token = token_or_refresh_token.refresh_token
            resource = token_or_refresh_token.resource
            if scopes is None:
                scopes = token_or_refresh_token.scopes
        else:
            refresh_token, resource = token_or_refresh_token, None
        if not refresh_token:
            raise LocalProtocolError("this token has no refresh token: sign in again")
        request = refresh_request(
            endpoints,
            self.client_id,
            refresh_token,
            scopes=_scope_tuple(scopes),
            resource=resource,
        )
        return request, refresh_token

    def _refreshed(self, response: HttpResponse, old_refresh_token: str) -> Token:
        token = parse_token_response(response, self.wall_clock())
        if token.refresh_token is None:
            # RFC 6749 §6: the server MAY issue a new refresh token; if it does not, the old one
            # stays valid, so keep it with the new access token.
            fields = {name: getattr(token, name) for name in Token.__slots__}
            fields["refresh_token"] = old_refresh_token
            token = Token(**fields)
        return token

    def _rebased(self, token: Token) -> Token:
        # The flow stamped the token with the monotonic ``now``: move it onto the wall clock.
        return token.with_issued_at(self.wall_clock() - (self.clock() - token.issued_at))

    def _failed(self, flow: DeviceFlow, exc: TransportError) -> Retrying:
        if not exc.is_transient:
            raise exc
        return flow.transport_failed(self.clock(), type(exc).__name__)

    def _report(self, event: PendingEvent, on_pending: OnPending | None) -> None:
        wait = event.next_poll_at - self.clock()
        if isinstance(event, Retrying):
            logger.info(
                "poll failed (%s, attempt %d); retrying in %.1f s",
                event.reason,
                event.attempt,
                wait,
            )
        elif isinstance(event, SlowDown):
            logger.info("server asked to slow down; polling every %.0f s", event.interval)
        else:
            logger.debug("authorization pending; polling again in %.1f s", wait)
        if on_pending is not None:
            on_pending(event)

    def _sleep_step(self, flow: DeviceFlow, should_cancel: ShouldCancel | None) -> float:
        """Seconds to sleep before looking again; 0 when the next poll (or expiry) is due."""
        assert flow.next_poll_at is not None and flow.expires_at is not None
        deadline = min(flow.next_poll_at, flow.expires_at)
        if should_cancel is not None and should_cancel():
            logger.info("sign-in cancelled")
            raise FlowCancelledError("the sign-in was cancelled")
        remaining = deadline - self.clock()
        if remaining <= 0:
            return 0.0
        return remaining if should_cancel is None else min(remaining, _CANCEL_CHECK_SECONDS)

    def _log_exchange(
        self, request: HttpRequest, started: float, outcome: HttpResponse | TransportError
    ) -> None:
        result = (
            f"HTTP {outcome.status}"
            if isinstance(outcome, HttpResponse)
            else type(outcome).__name__
        )
        elapsed = (self.clock() - started) * 1000
        logger.info(
            "%s %s -> %s (%.0f ms)", request.method, _url_for_log(request.url), result, elapsed
        )


class AsyncDeviceFlowClient(_ClientBase):
    """Sign in with the device flow from asyncio code; cancel the task to stop waiting.

    Same arguments as :class:`DeviceFlowClient`, except that ``transport`` is an
    :class:`~deviceflow.transports.AsyncTransport` (default: httpx when installed, otherwise
    urllib in a worker thread) and ``sleep`` a coroutine function (default :func:`asyncio.sleep`).

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
        self._transport = transport or _default_async_transport()
        import asyncio  # lazily: synchronous programs (and the CLI) never pay for it

        self._sleep = sleep or asyncio.sleep

    # --- generated-equivalent section: keep identical to DeviceFlowClient modulo async/await --

    async def start(
        self, scopes: Iterable[str] | str = (), *, resource: str | None = None
    ) -> DeviceCodeIssued:
        """Ask for a device code (RFC 8628 §3.1) and return what to show the user.

        Args:
            scopes: scopes to request (a list, or a space-separated string).
            resource: the v1 ``resource`` (Microsoft v1 endpoints only).

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
                return self._remember(flow.receive(response, self.clock()), flow)
            except DeviceFlowError as exc:
                delay = _start_retry_delay(exc, attempt)
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
        flow = self._take(issued)
        while True:
            while step := self._sleep_step(flow, should_cancel):
                await self._sleep(step)
            request = flow.poll(self.clock())
            try:
                response = await self._send(request)
            except TransportError as exc:
                event: object = self._failed(flow, exc)
            else:
                event = flow.receive(response, self.clock())
            if isinstance(event, TokenIssued):
                return self._rebased(event.token)
            assert isinstance(event, AuthorizationPending | SlowDown | Retrying)
            self._report(event, on_pending)

    async def refresh(
        self, token_or_refresh_token: Token | str, scopes: Iterable[str] | str | None = None
    ) -> Token:
        """Redeem a refresh token for a new access token (RFC 6749 §6).

        Args:
            token_or_refresh_token: a :class:`Token` with a refresh token, or the refresh token.
            scopes: scopes to ask for; default: the token's scopes (none for a bare string).

        Returns:
            The new token (on the wall clock). When the server issues no new refresh token, the
            old one is kept on it.

        Raises:
            LocalProtocolError: the token has no refresh token.
            InvalidGrantError: the refresh token is expired, revoked or already used.
            TransportError, OAuthError, RemoteProtocolError: as for :meth:`start`.
        """
        request, refresh_token = self._refresh_request(
            await self._resolve(), token_or_refresh_token, scopes
        )
        return self._refreshed(await self._send(request), refresh_token)

    async def _resolve(self) -> Endpoints:
        if self._endpoints is not None:
            return self._endpoints
        assert self._issuer is not None
        for request in discovery_requests(self._issuer):
            endpoints = self._adopt_metadata(await self._send(request))
            if endpoints is not None:
                return endpoints
        raise self._no_metadata()

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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _default_async_transport() -> AsyncTransport:
    try:
        from deviceflow.transports._httpx import AsyncHttpxTransport
    except ImportError:
        return AsyncUrllibTransport()
    return AsyncHttpxTransport()


class DeviceFlowClient(_ClientBase):
    """Sign in with the device flow (RFC 8628) and refresh tokens; blocking.

    Example::

        client = DeviceFlowClient("00000000-0000-0000-0000-000000000000")
        issued = client.start(["User.Read"])
        print(issued.message)
        token = client.wait(issued)

    Args:
        client_id: the application (client) id.
        authority: a Microsoft authority such as
            ``https://login.microsoftonline.com/contoso.onmicrosoft.com`` (v2.0 endpoints). The
            default, when neither ``authority``, ``issuer`` nor ``endpoints`` is given, is
            ``https://login.microsoftonline.com/organizations``.
        issuer: a standard OAuth/OIDC issuer, resolved through discovery (OpenID Connect, then
            RFC 8414) on first use.
        endpoints: explicit :class:`~deviceflow.core.Endpoints` (any dialect, e.g. Microsoft v1).
        transport: how to send requests (default :class:`~deviceflow.transports.UrllibTransport`).
        clock: monotonic clock for waits (default :func:`time.monotonic`).
        sleep: blocking sleep (default :func:`time.sleep`).
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
        transport: Transport | None = None,
        clock: Clock | None = None,
        sleep: Sleeper | None = None,
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
        self._transport = transport or UrllibTransport()
        self._sleep = sleep or time.sleep

    # --- generated-equivalent section: keep identical to AsyncDeviceFlowClient modulo async/await

    def start(
        self, scopes: Iterable[str] | str = (), *, resource: str | None = None
    ) -> DeviceCodeIssued:
        """Ask for a device code (RFC 8628 §3.1) and return what to show the user.

        Args:
            scopes: scopes to request (a list, or a space-separated string).
            resource: the v1 ``resource`` (Microsoft v1 endpoints only).

        Returns:
            The user code, verification URI and deadlines, on this client's monotonic clock.

        Raises:
            TransportError: the request did not complete, on each of ``START_ATTEMPTS`` tries
                (transient faults are retried after 1 s, then 2 s: no code was shown yet).
            OAuthError: the server refused (e.g. ``InvalidClientError``, ``InvalidScopeError``).
            RemoteProtocolError: the server's answer or discovery document is malformed (or a
                5xx/429 answer, once the attempts are used up).
        """
        endpoints = self._resolve()
        attempt = 0
        while True:
            attempt += 1
            flow = self._new_flow(endpoints, scopes, resource)
            try:
                response = self._send(flow.start())
                return self._remember(flow.receive(response, self.clock()), flow)
            except DeviceFlowError as exc:
                delay = _start_retry_delay(exc, attempt)
            self._sleep(delay)

    def wait(
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
        flow = self._take(issued)
        while True:
            while step := self._sleep_step(flow, should_cancel):
                self._sleep(step)
            request = flow.poll(self.clock())
            try:
                response = self._send(request)
            except TransportError as exc:
                event: object = self._failed(flow, exc)
            else:
                event = flow.receive(response, self.clock())
            if isinstance(event, TokenIssued):
                return self._rebased(event.token)
            assert isinstance(event, AuthorizationPending | SlowDown | Retrying)
            self._report(event, on_pending)

    def refresh(
        self, token_or_refresh_token: Token | str, scopes: Iterable[str] | str | None = None
    ) -> Token:
        """Redeem a refresh token for a new access token (RFC 6749 §6).

        Args:
            token_or_refresh_token: a :class:`Token` with a refresh token, or the refresh token.
            scopes: scopes to ask for; default: the token's scopes (none for a bare string).

        Returns:
            The new token (on the wall clock). When the server issues no new refresh token, the
            old one is kept on it.

        Raises:
            LocalProtocolError: the token has no refresh token.
            InvalidGrantError: the refresh token is expired, revoked or already used.
            TransportError, OAuthError, RemoteProtocolError: as for :meth:`start`.
        """
        request, refresh_token = self._refresh_request(
            self._resolve(), token_or_refresh_token, scopes
        )
        return self._refreshed(self._send(request), refresh_token)

    def _resolve(self) -> Endpoints:
        if self._endpoints is not None:
            return self._endpoints
        assert self._issuer is not None
        for request in discovery_requests(self._issuer):
            endpoints = self._adopt_metadata(self._send(request))
            if endpoints is not None:
                return endpoints
        raise self._no_metadata()

    def _send(self, request: HttpRequest) -> HttpResponse:
        started = self.clock()
        try:
            response = self._transport.handle_request(request, timeout=self._timeout)
        except TransportError as exc:
            self._log_exchange(request, started, exc)
            raise
        self._log_exchange(request, started, response)
        return response

    def close(self) -> None:
        """Release the transport's connections, if this client created the transport."""
        close = getattr(self._transport, "close", None)
        if self._owns_transport and close is not None:
            close()

    def __enter__(self) -> DeviceFlowClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
