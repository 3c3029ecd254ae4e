"""Each transport's one exception map, fed the exceptions that are hard to provoke on loopback."""

from __future__ import annotations

import http.client
import ssl
import urllib.error

import httpx
import pytest

from deviceflow.core import HttpRequest
from deviceflow.errors import (
    ConnectError,
    ConnectTimeoutError,
    ProxyError,
    ReadError,
    ReadTimeoutError,
    TLSError,
    TransportError,
    TransportTimeoutError,
    WriteError,
)
from deviceflow.transports import _httpx, _urllib
from deviceflow.transports._policy import is_loopback_host

REQUEST = HttpRequest(method="POST", url="https://login.example.test/token")


def _ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')}")
    error.reason = reason  # as the ssl module sets it from OpenSSL's error queue
    return error


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        pytest.param(urllib.error.URLError(TimeoutError()), ConnectTimeoutError, id="connect-to"),
        pytest.param(urllib.error.URLError(ConnectionRefusedError()), ConnectError, id="refused"),
        pytest.param(urllib.error.URLError(BrokenPipeError()), WriteError, id="broken-pipe"),
        pytest.param(urllib.error.URLError(ssl.SSLError()), TLSError, id="tls-connect"),
        # The peer hanging up mid-handshake is a dropped connection (retried), not a TLS verdict.
        pytest.param(urllib.error.URLError(ssl.SSLEOFError()), ConnectError, id="tls-eof-connect"),
        pytest.param(
            urllib.error.URLError(_ssl_error("UNEXPECTED_MESSAGE")),
            ConnectError,
            id="tls-garbled-connect",
        ),
        pytest.param(
            urllib.error.URLError(_ssl_error("WRONG_VERSION_NUMBER")),
            TLSError,
            id="tls-version-mismatch",
        ),
        pytest.param(
            urllib.error.URLError(OSError("Tunnel connection failed: 407 Proxy Auth")),
            ProxyError,
            id="proxy",
        ),
        pytest.param(urllib.error.URLError("unknown url type: gopher"), TransportError, id="url"),
        pytest.param(ssl.SSLError(), TLSError, id="tls-read"),
        pytest.param(ssl.SSLZeroReturnError(), ReadError, id="tls-eof-read"),
        pytest.param(_ssl_error("BAD_RECORD_MAC"), ReadError, id="tls-garbled-read"),
        pytest.param(TimeoutError(), ReadTimeoutError, id="read-timeout"),
        pytest.param(http.client.RemoteDisconnected(), ReadError, id="disconnected"),
        pytest.param(http.client.IncompleteRead(b"x", 3), ReadError, id="incomplete"),
        pytest.param(ConnectionResetError(), ReadError, id="reset"),
        pytest.param(OSError("odd"), ReadError, id="oserror"),
    ],
)
def test_urllib_exception_map(raised: BaseException, expected: type[TransportError]) -> None:
    with pytest.raises(expected) as info, _urllib._map_exceptions(REQUEST):
        raise raised
    assert type(info.value) is expected
    assert info.value.__cause__ is raised
    assert info.value.request is REQUEST


def _tls_connect_error(cause: ssl.SSLError | None = None) -> httpx.ConnectError:
    try:
        try:
            raise cause or ssl.SSLCertVerificationError("certificate verify failed")
        except ssl.SSLError as exc:
            raise httpx.ConnectError("handshake failed") from exc
    except httpx.ConnectError as exc:
        return exc


def _reset_during_handshake() -> httpx.ConnectError:
    # As anyio reports it: the reset, with the handshake's SSLWantReadError as its context.
    reset = ConnectionResetError(104, "Connection reset by peer")
    reset.__context__ = ssl.SSLWantReadError("The operation did not complete (read)")
    error = httpx.ConnectError("")
    error.__cause__ = reset
    return error


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        pytest.param(httpx.ConnectTimeout("slow"), ConnectTimeoutError, id="connect-timeout"),
        pytest.param(httpx.ReadTimeout("slow"), ReadTimeoutError, id="read-timeout"),
        pytest.param(httpx.WriteTimeout("slow"), TransportTimeoutError, id="write-timeout"),
        pytest.param(httpx.PoolTimeout("slow"), TransportTimeoutError, id="pool-timeout"),
        pytest.param(httpx.ProxyError("407"), ProxyError, id="proxy"),
        pytest.param(httpx.ConnectError("refused"), ConnectError, id="refused"),
        pytest.param(_tls_connect_error(), TLSError, id="tls"),
        pytest.param(_tls_connect_error(ssl.SSLEOFError()), ConnectError, id="tls-eof"),
        pytest.param(
            _tls_connect_error(_ssl_error("UNEXPECTED_MESSAGE")), ConnectError, id="tls-garbled"
        ),
        pytest.param(_reset_during_handshake(), ConnectError, id="tls-reset"),
        pytest.param(httpx.WriteError("pipe"), WriteError, id="write"),
        pytest.param(httpx.ReadError("reset"), ReadError, id="read"),
        pytest.param(httpx.RemoteProtocolError("disconnected"), ReadError, id="remote-protocol"),
        pytest.param(httpx.DecodingError("bad gzip"), ReadError, id="decoding"),
        pytest.param(httpx.UnsupportedProtocol("gopher"), TransportError, id="other"),
    ],
)
def test_httpx_exception_map(raised: BaseException, expected: type[TransportError]) -> None:
    with pytest.raises(expected) as info, _httpx._map_exceptions(REQUEST):
        raise raised
    assert type(info.value) is expected
    assert info.value.__cause__ is raised


def test_exception_maps_leave_other_errors_alone() -> None:
    for mapper in (_urllib._map_exceptions, _httpx._map_exceptions):
        with pytest.raises(KeyboardInterrupt), mapper(REQUEST):
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("api.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("", False),
    ],
)
def test_policy_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_httpx_transport_context_manager_and_ssl_context() -> None:
    context = ssl.create_default_context()
    with _httpx.HttpxTransport(ssl_context=context) as transport:
        assert transport._client.is_closed is False
    assert transport._client.is_closed


def test_urllib_transport_accepts_ssl_context() -> None:
    assert _urllib.UrllibTransport(ssl_context=ssl.create_default_context()) is not None
