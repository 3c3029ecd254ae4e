"""A small Microsoft Graph client on top of any :class:`~deviceflow.transports.base.Transport`.

- ``GET``/``POST``/``PATCH``/``DELETE`` with JSON bodies, relative paths (``me`` →
  ``{base}/v1.0/me``) or absolute ``/v1.0/...``, ``/beta/...`` paths;
- paging: :meth:`GraphClient.get_all` follows ``@odata.nextLink`` (only to the same origin, so the
  bearer token never leaves for another host) and concatenates the ``value`` arrays;
- throttling: ``429`` and ``503`` are retried after ``Retry-After`` seconds (capped), a few times;
- expiry: a ``401`` triggers exactly one silent refresh (``token(force_refresh=True)``) and one
  retry; a second ``401`` raises :class:`GraphUnauthorizedError`;
- claims challenges (continuous access evaluation): a ``401`` whose ``WWW-Authenticate`` carries
  ``error="insufficient_claims"`` asks for a token with those claims
  (``token(force_refresh=True, claims=...)``); when the source's refresh is refused
  (:class:`~deviceflow.errors.OAuthError`), or Graph challenges again,
  :class:`GraphUnauthorizedError` carries the claims for a new sign-in (``.claims``).

The access token comes from a :class:`TokenSource` callable, so the client never stores it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from deviceflow.challenge import bearer_parameters, claims_challenge
from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.errors import DeviceFlowError, OAuthError
from deviceflow.transports.base import Transport

__all__ = [
    "DEFAULT_GRAPH_URL",
    "GraphClient",
    "GraphError",
    "GraphResponse",
    "GraphUnauthorizedError",
    "TokenSource",
]

DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
_RETRY_STATUSES = (429, 503)


class GraphError(DeviceFlowError):
    """Graph answered with an error.

    Attributes:
        status: the HTTP status.
        code: Graph's ``error.code`` (``Request_ResourceNotFound``, ...), if any.
        claims: the claims (JSON) of a 401's claims challenge: sign in again with them
            (``client.start(scopes, claims=error.claims)``).
        scope: the scope(s) a 403's ``insufficient_scope`` challenge names (RFC 6750 §3.1),
            space-separated: sign in again asking for them too.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        claims: str | None = None,
        scope: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.claims = claims
        self.scope = scope


class GraphUnauthorizedError(GraphError):
    """Graph refused the token even after a refresh: sign in again (with ``claims``, when
    Graph sent a claims challenge), or ask for the scope."""


class TokenSource(Protocol):
    """Returns a valid access token; ``force_refresh`` asks for a new one even if cached.

    After a claims challenge it is called with ``claims=`` too (the claims request, JSON): the
    new token must satisfy them (refresh with ``claims``). A source that takes no ``claims``
    still works with a Graph that sends no challenges.
    """

    def __call__(self, *, force_refresh: bool = False) -> str: ...


class GraphResponse:
    """One Graph response: ``status``, ``headers`` and the decoded JSON ``body`` (or ``None``)."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: tuple[tuple[str, str], ...], body: Any) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class GraphClient:
    """Calls Microsoft Graph (or an emulation of it) with a bearer token.

    Args:
        transport: sends the requests.
        token: returns the access token (see :class:`TokenSource`).
        base_url: Graph's base URL (``--graph-url`` / ``DEVICEFLOW_GRAPH_URL``).
        sleep: waits before retrying a throttled request (injected in tests).
        timeout: per-request network timeout in seconds.
        max_retries: how many times a 429/503 is retried.
        max_retry_after: the longest wait honoured from ``Retry-After``, in seconds.
        clock: wall clock, for ``Retry-After`` HTTP dates.
    """

    def __init__(
        self,
        transport: Transport,
        token: TokenSource,
        *,
        base_url: str = DEFAULT_GRAPH_URL,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_after: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._token = token
        self.base_url = base_url.rstrip("/")
        self._sleep = sleep
        self._timeout = timeout
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self._clock = clock

    def url(self, path: str) -> str:
        """The absolute URL for ``path`` (``me``, ``/v1.0/me``, ``/beta/me`` or a full URL).

        Raises:
            GraphError: a full URL that points at another origin than ``base_url``.
        """
        if path.startswith(("http://", "https://")):
            if _origin(path) != _origin(self.base_url):
                raise GraphError(
                    f"refusing to send the token to {_origin(path)} (Graph is {self.base_url})",
                    status=0,
                )
            return path
        path = path.lstrip("/")
        if not path.startswith(("v1.0/", "beta/")) and path not in ("v1.0", "beta"):
            path = "v1.0/" + path
        return f"{self.base_url}/{path}"

    def request(self, method: str, path: str, *, body: Any = None) -> GraphResponse:
        """Send one request; retry throttling, refresh once on ``401``.

        Args:
            method: ``GET``, ``POST``, ``PATCH`` or ``DELETE``.
            path: see :meth:`url`.
            body: a JSON-serialisable body, or ``None``.

        Returns:
            The successful (2xx) response.

        Raises:
            GraphUnauthorizedError: ``401`` even after one refresh.
            GraphError: any other non-2xx answer (after retries for 429/503).
            TransportError: the network failed.
        """
        method = method.upper()
        url = self.url(path)
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        refreshed = False
        throttled = 0
        claims: str | None = None
        while True:
            response = self._send(method, url, data, force_refresh=refreshed, claims=claims)
            if response.status == 401 and not refreshed:
                refreshed = True
                claims = claims_challenge(response.header("WWW-Authenticate"))
                continue
            if response.status in _RETRY_STATUSES and throttled < self._max_retries:
                throttled += 1
                self._sleep(self._retry_delay(response, throttled))
                continue
            return _finish(response)

    def _send(
        self, method: str, url: str, data: bytes, *, force_refresh: bool, claims: str | None
    ) -> HttpResponse:
        if claims:
            try:
                token = self._token(force_refresh=True, claims=claims)  # type: ignore[call-arg]
            except OAuthError as exc:  # the refresh was refused: only a new sign-in will do
                raise GraphUnauthorizedError(
                    f"Graph demands claims a refresh cannot meet ({exc}): sign in again with them",
                    status=401,
                    claims=claims,
                ) from exc
        else:
            token = self._token(force_refresh=force_refresh)
        headers = [("Authorization", "Bearer " + token), ("Accept", "application/json")]
        if data:
            headers.append(("Content-Type", "application/json"))
        request = HttpRequest(method=method, url=url, headers=headers, body=data)
        return self._transport.handle_request(request, timeout=self._timeout)

    def _retry_delay(self, response: HttpResponse, attempt: int) -> float:
        value = (response.header("Retry-After") or "").strip()
        delay: float | None = None
        if value.isdigit():
            delay = float(value)
        elif value:
            try:
                delay = parsedate_to_datetime(value).timestamp() - self._clock()
            except (TypeError, ValueError):
                delay = None
        if delay is None:
            delay = float(2 ** (attempt - 1))
        return min(max(delay, 0.0), self._max_retry_after)

    def get(self, path: str) -> Any:
        """``GET`` ``path`` and return the decoded JSON body.

        Raises:
            GraphError: see :meth:`request`.
            TransportError: the network failed.
        """
        return self.request("GET", path).body

    def get_all(self, path: str, *, max_pages: int = 1000) -> list[Any]:
        """``GET`` a collection and follow ``@odata.nextLink``; return all ``value`` items.

        Raises:
            GraphError: see :meth:`request`; also when a page is not a collection.
            TransportError: the network failed.
        """
        items: list[Any] = []
        next_path: str | None = path
        pages = 0
        while next_path and pages < max_pages:
            body = self.get(next_path)
            pages += 1
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise GraphError(f"{path} is not a collection (no 'value' array)", status=200)
            items.extend(body["value"])
            link = body.get("@odata.nextLink")
            next_path = link if isinstance(link, str) and link else None
        return items


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _finish(response: HttpResponse) -> GraphResponse:
    body: Any = None
    if response.body:
        try:
            body = json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = response.body.decode("utf-8", "replace")
    if 200 <= response.status < 300:
        return GraphResponse(response.status, response.headers, body)
    code, message = None, None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        message = body["error"].get("message")
    text = f"Graph answered HTTP {response.status}"
    if code:
        text += f" {code}"
    if message:
        text += f": {message}"
    cls = GraphUnauthorizedError if response.status == 401 else GraphError
    challenge = bearer_parameters(response.header("WWW-Authenticate"))
    # RFC 6750 §3.1: insufficient_scope "MAY include the scope attribute with the scope necessary".
    scope = challenge.get("scope") if challenge.get("error") == "insufficient_scope" else None
    if response.status == 403:
        needed = f"the scope {scope}" if scope else "a scope this call needs"
        text += f" (the token lacks {needed}; sign in again asking for it)"
    claims = claims_challenge(response.header("WWW-Authenticate"))
    if claims:
        text += " (a claims challenge: sign in again with its claims)"
    code = code if isinstance(code, str) else None
    raise cls(text, status=response.status, code=code, claims=claims, scope=scope or None)
