"""The urllib and httpx transports against a scripted loopback server."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from deviceflow.core import HttpRequest
from deviceflow.errors import (
    ConnectError,
    InsecureTransportError,
    ProxyError,
    ReadError,
    ReadTimeoutError,
    TLSError,
    TransportError,
)
from deviceflow.transports import HttpxTransport, Transport, UrllibTransport
from tests.support.tls import self_signed_cert
from tests.support.tools import free_port

from .conftest import ScriptedServer, drop, raw, respond

Factory = Callable[..., Transport]
TRANSPORTS = [pytest.param(UrllibTransport, id="urllib"), pytest.param(HttpxTransport, id="httpx")]

FORM = b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=abc"


def post(url: str) -> HttpRequest:
    return HttpRequest(
        method="POST",
        url=url,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        body=FORM,
    )


@pytest.fixture(params=TRANSPORTS)
def make_transport(request: pytest.FixtureRequest) -> Callable[..., Transport]:
    made: list[Transport] = []

    def make(**kwargs: object) -> Transport:
        transport: Transport = request.param(**kwargs)
        made.append(transport)
        return transport

    yield make  # type: ignore[misc]
    for transport in made:
        close = getattr(transport, "close", None)
        if close is not None:
            close()


def test_transport_post_sends_method_headers_body_and_returns_response(
    make_transport: Factory, server_factory: Callable[..., ScriptedServer]
) -> None:
    server = server_factory(respond(200, b'{"ok": true}', {"Content-Type": "application/json"}))
    response = make_transport().handle_request(post(server.url()), timeout=5)
    assert response.status == 200
    assert response.body == b'{"ok": true}'
    assert response.header("content-type") == "application/json"
    [seen] = server.requests
    assert (seen.method, seen.target, seen.body) == ("POST", "/token", FORM)
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.headers["user-agent"].startswith("deviceflow/")


def test_transport_get_sends_no_body(
    make_transport: Factory, server_factory: Callable[..., ScriptedServer]
) -> None:
    server = server_factory(respond(200, b"{}"))
    request = HttpRequest(method="GET", url=server.url("/.well-known/openid-configuration"))
    assert make_transport().handle_request(request, timeout=5).status == 200
    assert server.requests[0].method == "GET"
    assert server.requests[0].body == b""


@pytest.mark.parametrize("status", [400, 429, 503])
def test_transport_error_status_is_a_response_not_an_exception(
    make_transport: Factory, server_factory: Callable[..., ScriptedServer], status: int
) -> None:
    body = b'{"error": "authorization_pending"}'
    server = server_factory(respond(status, body, {"Retry-After": "1"}))
    response = make_transport().handle_request(post(server.url()), timeout=5)
    assert (response.status, response.body, response.header("Retry-After")) == (status, body, "1")


def test_transport_redirect_is_returned_not_followed(
    make_transport: Factory, server_factory: Callable[..., ScriptedServer]
) -> None:
    server = server_factory(respond(302, b"", {"Location": "http://127.0.0.1:1/elsewhere"}))
    response = make_transport().handle_request(post(server.url()), timeout=5)
    assert response.status == 302
    assert len(server.requests) == 1


def test_transport_refused_connection_raises_connect_error(make_transport: Factory) -> None:
    request = post(f"http://127.0.0.1:{free_port()}/token")
    with pytest.raises(ConnectError) as info:
        make_transport().handle_request(request, timeout=5)
    assert info.value.request is request
    assert info.value.is_transient
    assert info.value.__cause__ is not None


def test_transport_dropped_connection_raises_read_error(
    make_transport: Factory, server_factory: Callable[..., ScriptedServer]
) -> None:
    server = server_factory(drop)
    with pytest.raises(ReadError):
        make_transport().handle_request(post(server.url()), timeout=5)


def test_transport_truncated_body_raises_read_error(
    make_transport: Factory, server_factory: Callable[..., ScriptedServer]
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"
    server = server_factory(raw(head + b'{"access_'))
    with pytest.raises(ReadError):
        make_transport().handle_request(post(server.url()), timeout=5)


def test_transport_garbage_status_line_raises_read_error(
    make_transport: Factory, server_factory: Callable[..., ScriptedServer]
) -> None:
    server = server_factory(raw(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"))
    with pytest.raises(ReadError):
        make_transport().handle_request(post(server.url()), timeout=5)


def test_transport_silent_server_raises_read_timeout(
    make_transport: Factory, server_factory: Callable[..., ScriptedServer]
) -> None:
    server = server_factory()
    server.actions.append(server.hold)
    with pytest.raises(ReadTimeoutError):
        make_transport().handle_request(post(server.url()), timeout=0.2)


def test_transport_oversized_body_raises_transport_error(
    make_transport: Factory, server_factory: Callable[..., ScriptedServer]
) -> None:
    server = server_factory(respond(200, b"x" * (1024 * 1024 + 1)))
    with pytest.raises(TransportError, match="larger than"):
        make_transport().handle_request(post(server.url()), timeout=5)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://login.example.invalid/token", id="http-remote"),
        pytest.param("http://10.0.0.1/token", id="http-private-ip"),
        pytest.param("ftp://127.0.0.1/token", id="ftp"),
    ],
)
def test_transport_insecure_url_is_refused_before_any_io(make_transport: Factory, url: str) -> None:
    with pytest.raises(InsecureTransportError) as info:
        make_transport().handle_request(post(url), timeout=0.01)
    assert not info.value.is_transient
    assert info.value.__cause__ is None


def test_transport_opt_in_allows_plain_http_to_other_hosts(make_transport: Factory) -> None:
    # 0.0.0.0 is not loopback for the policy, yet Linux routes it locally, so nothing listening
    # there refuses at once: reaching the network layer proves the policy let the request through.
    url = f"http://0.0.0.0:{free_port()}/token"
    with pytest.raises(InsecureTransportError):
        make_transport().handle_request(post(url), timeout=5)
    with pytest.raises(ConnectError):
        make_transport(allow_insecure_http=True).handle_request(post(url), timeout=5)


def test_transport_ca_bundle_and_context_together_are_rejected(make_transport: Factory) -> None:
    with pytest.raises(ValueError, match="not both"):
        make_transport(ca_bundle="ca.pem", ssl_context=ssl.create_default_context())


def test_transport_loopback_bypasses_environment_proxy(
    make_transport: Factory,
    server_factory: Callable[..., ScriptedServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = server_factory(respond(200, b"{}"))
    assert make_transport().handle_request(post(server.url()), timeout=5).status == 200


def test_transport_refused_proxy_tunnel_raises_proxy_error(
    make_transport: Factory,
    server_factory: Callable[..., ScriptedServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = server_factory(respond(403, b"forbidden"))
    for name in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    for name in ("no_proxy", "NO_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ProxyError):
        make_transport().handle_request(post("https://login.example.invalid/token"), timeout=5)
    assert proxy.requests[0].method == "CONNECT"


# --- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate PEM, key PEM)."""
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def test_transport_ca_bundle_trusts_private_server(
    make_transport: Factory,
    server_factory: Callable[..., ScriptedServer],
    certificate: tuple[Path, Path],
) -> None:
    server = server_factory(respond(200, b"{}"), tls=_server_context(certificate))
    transport = make_transport(ca_bundle=certificate[0])
    assert transport.handle_request(post(server.url(scheme="https")), timeout=5).status == 200


def test_transport_ca_bundle_directory_is_accepted(
    make_transport: Factory, certificate: tuple[Path, Path]
) -> None:
    assert make_transport(ca_bundle=certificate[0].parent) is not None


def test_transport_untrusted_certificate_raises_tls_error(
    make_transport: Factory,
    server_factory: Callable[..., ScriptedServer],
    certificate: tuple[Path, Path],
) -> None:
    server = server_factory(tls=_server_context(certificate))
    with pytest.raises(TLSError) as info:
        make_transport().handle_request(post(server.url(scheme="https")), timeout=5)
    assert not info.value.is_transient


def test_transport_satisfies_the_protocol(make_transport: Factory) -> None:
    assert isinstance(make_transport(), Transport)
