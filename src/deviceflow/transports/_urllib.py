"""The default transport: the standard library's :mod:`urllib.request`, no dependency.

Theory of operation. ``urllib`` reports failures in three shapes: errors while connecting or
sending are wrapped in :class:`urllib.error.URLError` (its ``reason`` holds the real error), HTTP
error statuses arrive as :class:`urllib.error.HTTPError` (which is also a response, so we return
it as one), and errors while reading the answer surface raw (``RemoteDisconnected``,
``IncompleteRead``, ``TimeoutError``, resets). :func:`_map_exceptions` is the one place that turns
them into the :class:`~deviceflow.errors.TransportError` family; whether an error happened before
or after the request was sent decides between connect/write and read flavours.

:class:`AsyncUrllibTransport` runs the same code in a worker thread for asyncio programs that do
not have httpx installed.
"""

from __future__ import annotations

import contextlib
import os

from deviceflow import errors
from deviceflow.core import HttpRequest, HttpResponse

from ._policy import (
    DEFAULT_TIMEOUT,
    MAX_BODY_BYTES,
    check_url,
    is_dropped_tls,
    is_loopback_host,
    user_agent,
)

# ``typing.TYPE_CHECKING`` without importing typing; type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    import urllib.request
    from collections.abc import Iterator

__all__ = ["AsyncUrllibTransport", "UrllibTransport"]


class UrllibTransport:
    """Send requests with :mod:`urllib.request` over TLS verified against the system CAs.

    Constructing one is cheap: :mod:`ssl`, :mod:`urllib.request` and :mod:`http.client` (a third
    of the client's start-up) are loaded, and the default TLS context made, when the first request
    is sent. A ``ca_bundle`` is read at once, so that a missing or malformed file fails here.

    Args:
        ca_bundle: a PEM file (or directory of hashed certificates) to trust instead of the
            system store, e.g. for a private server's CA.
        ssl_context: a ready :class:`ssl.SSLContext`; exclusive with ``ca_bundle``.
        allow_insecure_http: send plain ``http`` to hosts that are not loopback. Loopback hosts
            (127.0.0.0/8, ``::1``, ``localhost``) are always allowed.
        trust_env: honour the ``https_proxy``/``http_proxy``/``no_proxy`` environment variables
            (loopback hosts never go through a proxy).

    Raises:
        ValueError: both ``ca_bundle`` and ``ssl_context`` were given.
        OSError, ssl.SSLError: ``ca_bundle`` cannot be read or holds no usable certificate.
    """

    def __init__(
        self,
        *,
        ca_bundle: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        allow_insecure_http: bool = False,
        trust_env: bool = True,
    ) -> None:
        if ca_bundle is not None and ssl_context is not None:
            raise ValueError("pass either ca_bundle or ssl_context, not both")
        if ca_bundle is not None:
            import ssl

            path = os.fspath(ca_bundle)
            cadir, cafile = (path, None) if os.path.isdir(path) else (None, path)
            ssl_context = ssl.create_default_context(cafile=cafile, capath=cadir)
        self._ssl_context = ssl_context
        self._allow_insecure_http = allow_insecure_http
        self._trust_env = trust_env
        # (direct, proxied): made by the first request (_openers).
        self._opener_pair: tuple[urllib.request.OpenerDirector, ...] | None = None

    def _openers(self) -> tuple[urllib.request.OpenerDirector, ...]:
        """``(direct, proxied)`` openers, made on first use; the same object when not trusting env.

        Two threads racing here (AsyncUrllibTransport) each build an equivalent pair; one wins.
        """
        if self._opener_pair is None:
            import ssl
            import urllib.request

            class NoRedirect(urllib.request.HTTPRedirectHandler):
                """Hand 3xx answers back as responses instead of re-sending credentials."""

                def redirect_request(self, *args: object, **kwargs: object) -> None:
                    return None

            context = self._ssl_context or ssl.create_default_context()
            https = urllib.request.HTTPSHandler(context=context)
            direct = urllib.request.build_opener(
                urllib.request.ProxyHandler({}), https, NoRedirect()
            )
            proxied = (
                urllib.request.build_opener(https, NoRedirect()) if self._trust_env else direct
            )
            self._opener_pair = (direct, proxied)
        return self._opener_pair

    def handle_request(
        self, request: HttpRequest, *, timeout: float = DEFAULT_TIMEOUT
    ) -> HttpResponse:
        """Send ``request`` with urllib (the :class:`~.base.Transport` contract).

        Raises:
            InsecureTransportError: the URL's scheme or host is refused, before any I/O.
            TransportError: no response arrived (urllib's, http.client's or ssl's error, mapped).
        """
        check_url(request, allow_insecure_http=self._allow_insecure_http)
        import http.client
        import urllib.error
        import urllib.request
        from urllib.parse import urlsplit

        host = urlsplit(request.url).hostname or ""
        direct, proxied = self._openers()
        opener = direct if is_loopback_host(host) else proxied
        headers = dict(request.headers)
        headers.setdefault("User-Agent", user_agent())
        raw = urllib.request.Request(
            request.url,
            data=request.body if request.method == "POST" else None,
            headers=headers,
            method=request.method,
        )
        with _map_exceptions(request):
            try:
                answer = opener.open(raw, timeout=timeout)
            except urllib.error.HTTPError as exc:
                answer = exc  # an error status is still a response
            with answer:
                status = answer.status
                header_items = list(answer.headers.items())
                body = answer.read(MAX_BODY_BYTES + 1)
                # read(amt) returns short on an early close instead of raising: check the length.
                expected = answer.headers.get("Content-Length", "")
                if expected.isdigit() and len(body) < int(expected) <= MAX_BODY_BYTES:
                    raise http.client.IncompleteRead(body, int(expected) - len(body))
        if len(body) > MAX_BODY_BYTES:
            raise errors.TransportError(
                f"response body larger than {MAX_BODY_BYTES} bytes", request=request
            )
        return HttpResponse(status=status, headers=header_items, body=body)


class AsyncUrllibTransport:
    """Run a :class:`UrllibTransport` in a worker thread: async support without httpx.

    Cancelling the awaiting task returns at once; the worker thread finishes (or times out) in the
    background and its result is dropped.

    Args:
        transport: the sync transport to run; a default :class:`UrllibTransport` when omitted.
    """

    def __init__(self, transport: UrllibTransport | None = None) -> None:
        self._transport = transport if transport is not None else UrllibTransport()

    async def handle_async_request(
        self, request: HttpRequest, *, timeout: float = DEFAULT_TIMEOUT
    ) -> HttpResponse:
        """Run :meth:`UrllibTransport.handle_request` in a worker thread.

        Raises:
            InsecureTransportError, TransportError: as :meth:`UrllibTransport.handle_request`.
        """
        import asyncio  # lazily: only asyncio programs get here, and they have it loaded

        return await asyncio.to_thread(self._transport.handle_request, request, timeout=timeout)


def _is_proxy_failure(exc: BaseException) -> bool:
    # http.client reports a refused CONNECT tunnel as a bare OSError with this wording.
    return type(exc) is OSError and str(exc).startswith("Tunnel connection failed")


@contextlib.contextmanager
def _map_exceptions(request: HttpRequest) -> Iterator[None]:
    """Translate urllib/http.client/socket/ssl errors into the TransportError family."""
    import http.client  # loaded by now: a request was on its way
    import ssl
    import urllib.error

    try:
        yield
    except urllib.error.URLError as exc:
        # Raised while connecting or sending: the request did not reach the server (entirely).
        reason = exc.reason
        if not isinstance(reason, BaseException):  # e.g. "unknown url type": nothing was sent
            raise errors.TransportError(f"request failed: {reason}", request=request) from exc
        cause = reason
        if is_dropped_tls(cause):
            raise errors.ConnectError(
                f"connection closed during the TLS handshake: {cause}", request=request
            ) from exc
        if isinstance(cause, ssl.SSLError | ssl.CertificateError):
            raise errors.TLSError(f"TLS failed: {cause}", request=request) from exc
        if isinstance(cause, TimeoutError):
            raise errors.ConnectTimeoutError("timed out connecting", request=request) from exc
        if _is_proxy_failure(cause):
            raise errors.ProxyError(f"proxy failed: {cause}", request=request) from exc
        if isinstance(cause, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            raise errors.WriteError(
                f"connection dropped while sending: {cause}", request=request
            ) from exc
        raise errors.ConnectError(f"cannot connect: {cause}", request=request) from exc
    except ssl.SSLError as exc:
        if is_dropped_tls(exc):
            raise errors.ReadError(
                f"connection dropped while reading the response: {exc}", request=request
            ) from exc
        raise errors.TLSError(f"TLS failed: {exc}", request=request) from exc
    except TimeoutError as exc:
        raise errors.ReadTimeoutError(
            "timed out waiting for the response", request=request
        ) from exc
    except (http.client.HTTPException, ConnectionError) as exc:
        # RemoteDisconnected (no answer at all), IncompleteRead (truncated), resets, garbage.
        raise errors.ReadError(
            f"connection dropped while reading the response: {type(exc).__name__}",
            request=request,
        ) from exc
    except OSError as exc:
        raise errors.ReadError(f"reading the response failed: {exc}", request=request) from exc
