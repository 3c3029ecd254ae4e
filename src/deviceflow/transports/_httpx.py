"""Transports over httpx (sync and async), for programs that already use it.

``httpx`` is optional (``pip install 'deviceflow[httpx]'``). Its exceptions are translated into
the :class:`~deviceflow.errors.TransportError` family in :func:`_map_exceptions`, the one place
that knows them, for both transports.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

try:
    import httpx
except ImportError as exc:
    raise ImportError("the httpx transports need httpx: pip install 'deviceflow[httpx]'") from exc

from deviceflow import errors
from deviceflow.core import HttpRequest, HttpResponse

from ._policy import DEFAULT_TIMEOUT, MAX_BODY_BYTES, check_url, is_dropped_tls, user_agent

__all__ = ["AsyncHttpxTransport", "HttpxTransport"]


# Loopback traffic never goes through an environment proxy.
_LOOPBACK_MOUNTS: dict[str, None] = {
    "all://127.0.0.1": None,
    "all://localhost": None,
    "all://[::1]": None,
}


def _verify(ca_bundle: str | os.PathLike[str] | None, ssl_context: ssl.SSLContext | None) -> Any:
    if ca_bundle is not None and ssl_context is not None:
        raise ValueError("pass either ca_bundle or ssl_context, not both")
    if ssl_context is not None:
        return ssl_context
    if ca_bundle is None:
        return True
    path = os.fspath(ca_bundle)
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)


def _client_options(
    ca_bundle: str | os.PathLike[str] | None,
    ssl_context: ssl.SSLContext | None,
    trust_env: bool,
) -> dict[str, Any]:
    return {
        "verify": _verify(ca_bundle, ssl_context),
        "trust_env": trust_env,
        "follow_redirects": False,
        "headers": {"User-Agent": user_agent()},
        "mounts": _LOOPBACK_MOUNTS if trust_env else None,
    }


_C = TypeVar("_C", httpx.Client, httpx.AsyncClient)


class _HttpxTransport(Generic[_C]):
    """What both httpx transports share: the options, the client, and the request's arguments."""

    _client_type: type[_C]

    def __init__(
        self,
        *,
        client: _C | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        allow_insecure_http: bool = False,
        trust_env: bool = True,
    ) -> None:
        self._owns_client = client is None
        self._client: _C = client or self._client_type(
            **_client_options(ca_bundle, ssl_context, trust_env)
        )
        self._allow_insecure_http = allow_insecure_http

    def _stream_options(self, request: HttpRequest, timeout: float) -> dict[str, Any]:
        """``client.stream()``'s arguments, once the URL passed the scheme policy (no I/O)."""
        check_url(request, allow_insecure_http=self._allow_insecure_http)
        return {
            "method": request.method,
            "url": request.url,
            "headers": list(request.headers),
            "content": request.body or None,
            "timeout": timeout,
            "follow_redirects": False,
        }


class HttpxTransport(_HttpxTransport[httpx.Client]):
    """Send requests with an :class:`httpx.Client` (connection pooling, HTTP proxies).

    Args:
        client: an existing client to send with (left open by :meth:`close`); its settings apply,
            except that redirects are never followed.
        ca_bundle: a PEM file or certificate directory to trust instead of the system store.
        ssl_context: a ready :class:`ssl.SSLContext`; exclusive with ``ca_bundle``.
        allow_insecure_http: send plain ``http`` to hosts that are not loopback.
        trust_env: honour proxy and CA environment variables (loopback never goes via a proxy).

    Raises:
        ValueError: both ``ca_bundle`` and ``ssl_context`` were given.
    """

    _client_type = httpx.Client

    def handle_request(
        self, request: HttpRequest, *, timeout: float = DEFAULT_TIMEOUT
    ) -> HttpResponse:
        """Send ``request`` through the httpx client (the :class:`~.base.Transport` contract).

        Raises:
            InsecureTransportError: the URL's scheme or host is refused; nothing was sent.
            TransportError: no response arrived (httpx's exception, translated).
        """
        options = self._stream_options(request, timeout)
        body = _Body(request)
        with _map_exceptions(request), self._client.stream(**options) as answer:
            for chunk in answer.iter_bytes():
                body.add(chunk)
        return body.response(answer)

    def close(self) -> None:
        """Close the connection pool (unless the client was passed in)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> HttpxTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncHttpxTransport(_HttpxTransport[httpx.AsyncClient]):
    """Send requests with an :class:`httpx.AsyncClient`; same arguments as :class:`HttpxTransport`.

    Raises:
        ValueError: both ``ca_bundle`` and ``ssl_context`` were given.
    """

    _client_type = httpx.AsyncClient

    async def handle_async_request(
        self, request: HttpRequest, *, timeout: float = DEFAULT_TIMEOUT
    ) -> HttpResponse:
        """Send ``request`` through the httpx async client (:class:`~.base.AsyncTransport`).

        Raises:
            InsecureTransportError, TransportError: as :meth:`HttpxTransport.handle_request`.
        """
        options = self._stream_options(request, timeout)
        body = _Body(request)
        with _map_exceptions(request):
            async with self._client.stream(**options) as answer:
                async for chunk in answer.aiter_bytes():
                    body.add(chunk)
        return body.response(answer)

    async def aclose(self) -> None:
        """Close the connection pool (unless the client was passed in)."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncHttpxTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _Body:
    """A response body read in chunks, refused once it passes ``MAX_BODY_BYTES``."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._data = bytearray()

    def add(self, chunk: bytes) -> None:
        self._data += chunk
        if len(self._data) > MAX_BODY_BYTES:
            raise errors.TransportError(
                f"response body larger than {MAX_BODY_BYTES} bytes", request=self._request
            )

    def response(self, answer: httpx.Response) -> HttpResponse:
        return HttpResponse(
            status=answer.status_code, headers=list(answer.headers.items()), body=bytes(self._data)
        )


def _caused_by_tls(exc: BaseException) -> bool:
    """A TLS failure that retrying cannot cure, not the peer hanging up mid-handshake.

    The chain is read from the outside in and the first verdict wins: a reset or an EOF means a
    dropped connection even when an ``SSLWantReadError`` (the TLS layer's "need more bytes",
    which anyio leaves in ``__context__``) lies underneath it.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if is_dropped_tls(seen) or isinstance(seen, ConnectionError):
            return False
        if isinstance(seen, ssl.SSLError | ssl.CertificateError) and not isinstance(
            seen, ssl.SSLWantReadError | ssl.SSLWantWriteError
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextlib.contextmanager
def _map_exceptions(request: HttpRequest) -> Iterator[None]:
    """Translate httpx exceptions into the TransportError family (most specific first)."""
    try:
        yield
    except httpx.ConnectTimeout as exc:
        raise errors.ConnectTimeoutError("timed out connecting", request=request) from exc
    except httpx.ReadTimeout as exc:
        raise errors.ReadTimeoutError(
            "timed out waiting for the response", request=request
        ) from exc
    except httpx.TimeoutException as exc:  # write and pool timeouts
        raise errors.TransportTimeoutError(
            f"timed out: {type(exc).__name__}", request=request
        ) from exc
    except httpx.ProxyError as exc:
        raise errors.ProxyError(f"proxy failed: {exc}", request=request) from exc
    except httpx.ConnectError as exc:
        if _caused_by_tls(exc):
            raise errors.TLSError(f"TLS failed: {exc}", request=request) from exc
        raise errors.ConnectError(f"cannot connect: {exc}", request=request) from exc
    except httpx.WriteError as exc:
        raise errors.WriteError(
            f"connection dropped while sending: {exc}", request=request
        ) from exc
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.DecodingError) as exc:
        # RemoteProtocolError: the server closed without answering, or sent garbage/truncation.
        raise errors.ReadError(
            f"connection dropped while reading the response: {exc}", request=request
        ) from exc
    except httpx.HTTPError as exc:
        raise errors.TransportError(
            f"request failed: {type(exc).__name__}: {exc}", request=request
        ) from exc
