"""What the two drivers share: configuration, bookkeeping, logging and the defaults; no I/O.

The drivers (:mod:`._async`, and :mod:`._sync` generated from it) only send requests and wait;
everything they decide without the network is here, and every protocol rule is in
:mod:`deviceflow.core`.
"""

from __future__ import annotations

import time

from deviceflow._log import LazyLogger
from deviceflow.core import (
    AuthorizationPending,
    DeviceCodeIssued,
    DeviceFlow,
    Discovery,
    Endpoints,
    HttpRequest,
    HttpResponse,
    Retrying,
    SlowDown,
    Token,
    is_transient,
    microsoft_endpoints,
    parse_token_response,
    refresh_request,
)
from deviceflow.core._codec import form_encode
from deviceflow.errors import FlowCancelledError, LocalProtocolError, TransportError

# ``typing.TYPE_CHECKING`` without importing typing: the first use of the client loads only what
# it runs (tests/unit/client/test_import_set.py); type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from deviceflow._types import AsyncSleeper, Clock, Sleeper
    from deviceflow.transports import AsyncTransport, Transport

# Not ``logging.getLogger``: importing logging is a fifth of the client's start-up (see _log).
logger = LazyLogger("deviceflow.client")

#: The authority used when none of ``authority``, ``issuer`` or ``endpoints`` is given.
DEFAULT_AUTHORITY = "https://login.microsoftonline.com/organizations"

#: Seconds allowed per network operation of one HTTP exchange.
DEFAULT_TIMEOUT = 30.0

# How often ``should_cancel`` is consulted while waiting for the next poll.
_CANCEL_CHECK_SECONDS = 0.25

PendingEvent = AuthorizationPending | SlowDown | Retrying
if TYPE_CHECKING:  # annotations only: collections.abc stays unloaded at run time
    OnPending = Callable[[PendingEvent], object]
    ShouldCancel = Callable[[], bool]


def default_transport() -> Transport:
    """The blocking driver's transport when none is given: urllib (no dependency)."""
    from deviceflow.transports._urllib import UrllibTransport

    return UrllibTransport()


def default_async_transport() -> AsyncTransport:
    """The asyncio driver's transport when none is given: httpx if installed, else urllib."""
    try:
        from deviceflow.transports._httpx import AsyncHttpxTransport
    except ImportError:
        from deviceflow.transports._urllib import AsyncUrllibTransport

        return AsyncUrllibTransport()
    return AsyncHttpxTransport()


def default_sleep() -> Sleeper:
    """:func:`time.sleep`."""
    return time.sleep


def default_async_sleep() -> AsyncSleeper:
    """:func:`asyncio.sleep`, imported only now: blocking programs never pay for asyncio."""
    import asyncio

    return asyncio.sleep


def fingerprint(secret: str) -> str:
    """A short, non-reversible tag for logging a secret's identity (never the secret itself)."""
    import hashlib  # only once a code was issued: constructing a client does not load it

    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def _scope_tuple(scopes: Iterable[str] | str | None) -> tuple[str, ...]:
    if scopes is None:
        return ()
    if isinstance(scopes, str):
        return tuple(scopes.split())
    return tuple(scopes)


def _url_for_log(url: str) -> str:
    from urllib.parse import urlsplit  # after an exchange: the transport has loaded it

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class ClientBase:
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
        self._flows: dict[int, tuple[DeviceCodeIssued, DeviceFlow, str | None]] = {}

    @property
    def endpoints(self) -> Endpoints | None:
        """The endpoints in use, or ``None`` until an ``issuer`` has been discovered."""
        return self._endpoints

    def _discovery(self) -> Discovery:
        assert self._issuer is not None  # no endpoints were given, so an issuer was
        return Discovery(self._issuer)

    def _discovered(self, discovery: Discovery, response: HttpResponse) -> Endpoints | None:
        endpoints = discovery.receive(response)
        if endpoints is None and discovery.error is not None:
            logger.info("discovery document unusable: %s", discovery.error)
        self._endpoints = endpoints
        return endpoints

    def _new_flow(
        self, endpoints: Endpoints, scopes: Iterable[str] | str, resource: str | None
    ) -> DeviceFlow:
        return DeviceFlow(self.client_id, endpoints, scopes=_scope_tuple(scopes), resource=resource)

    def _remember(self, issued: object, flow: DeviceFlow, claims: str | None) -> DeviceCodeIssued:
        assert isinstance(issued, DeviceCodeIssued)  # what receive() returns after start()
        self._flows[id(issued)] = (issued, flow, claims)
        logger.info(
            "device code %s issued; expires in %.0f s, polling every %.0f s",
            fingerprint(issued.user_code),
            issued.expires_at - self.clock(),
            issued.interval,
        )
        return issued

    def _start_failed(self, exc: BaseException) -> None:
        logger.info("device authorization failed (%s); retrying", type(exc).__name__)

    def _take(self, issued: DeviceCodeIssued) -> tuple[DeviceFlow, str | None]:
        """The flow behind ``issued`` and the claims its polls carry."""
        entry = self._flows.pop(id(issued), None)
        if entry is None or entry[0] is not issued:
            raise LocalProtocolError(
                "wait() needs the DeviceCodeIssued returned by this client's start(), once"
            )
        return entry[1], entry[2]

    @staticmethod
    def _claimed(request: HttpRequest, claims: str | None) -> HttpRequest:
        """``request`` (a token request) with the ``claims`` parameter, when there are claims."""
        if not claims:
            return request
        body = request.body + b"&" + form_encode([("claims", claims)])
        return HttpRequest(
            method=request.method, url=request.url, headers=request.headers, body=body
        )

    def _refresh_request(
        self,
        endpoints: Endpoints,
        token_or_refresh_token: Token | str,
        scopes: Iterable[str] | str | None,
        claims: str | None = None,
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
            claims=claims,
        )
        return request, refresh_token

    def _refreshed(self, response: HttpResponse, old_refresh_token: str) -> Token:
        return parse_token_response(response, self.wall_clock(), refresh_token=old_refresh_token)

    def _rebased(self, token: Token) -> Token:
        # The flow stamped the token with the monotonic ``now``: move it onto the wall clock.
        return token.with_issued_at(self.wall_clock() - (self.clock() - token.issued_at))

    def _failed(self, flow: DeviceFlow, exc: TransportError) -> Retrying:
        if not is_transient(exc):
            raise exc
        return flow.transport_failed(self.clock(), type(exc).__name__)

    def _report(self, event: object, on_pending: OnPending | None) -> None:
        assert isinstance(event, AuthorizationPending | SlowDown | Retrying)
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
        assert flow.next_poll_at is not None  # the flow caps it at expires_at
        if should_cancel is not None and should_cancel():
            logger.info("sign-in cancelled")
            raise FlowCancelledError("the sign-in was cancelled")
        remaining = flow.next_poll_at - self.clock()
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
