"""The async transports: httpx's AsyncClient and urllib in a worker thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from deviceflow.core import HttpRequest
from deviceflow.errors import ConnectError, InsecureTransportError, ReadError
from deviceflow.transports import (
    AsyncHttpxTransport,
    AsyncTransport,
    AsyncUrllibTransport,
    UrllibTransport,
)
from tests.support.tools import free_port

from .conftest import ScriptedServer, drop, respond

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["urllib-thread", "httpx"])
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[AsyncTransport]:
    if request.param == "httpx":
        async with AsyncHttpxTransport() as made:
            yield made
    else:
        yield AsyncUrllibTransport()


def post(url: str) -> HttpRequest:
    return HttpRequest(method="POST", url=url, body=b"grant_type=x")


async def test_async_transport_returns_response(
    transport: AsyncTransport, server_factory: Callable[..., ScriptedServer]
) -> None:
    server = server_factory(respond(503, b"busy", {"Retry-After": "2"}))
    response = await transport.handle_async_request(post(server.url()), timeout=5)
    assert (response.status, response.body, response.header("retry-after")) == (503, b"busy", "2")
    assert server.requests[0].body == b"grant_type=x"


async def test_async_transport_refused_raises_connect_error(transport: AsyncTransport) -> None:
    with pytest.raises(ConnectError):
        await transport.handle_async_request(post(f"http://127.0.0.1:{free_port()}/"), timeout=5)


async def test_async_transport_dropped_raises_read_error(
    transport: AsyncTransport, server_factory: Callable[..., ScriptedServer]
) -> None:
    server = server_factory(drop)
    with pytest.raises(ReadError):
        await transport.handle_async_request(post(server.url()), timeout=5)


async def test_async_transport_insecure_url_refused(transport: AsyncTransport) -> None:
    with pytest.raises(InsecureTransportError):
        await transport.handle_async_request(post("http://example.invalid/"), timeout=5)


async def test_async_transport_satisfies_the_protocol(transport: AsyncTransport) -> None:
    assert isinstance(transport, AsyncTransport)


async def test_async_urllib_transport_wraps_given_transport(
    server_factory: Callable[..., ScriptedServer],
) -> None:
    server = server_factory(respond(200, b"{}"))
    transport = AsyncUrllibTransport(UrllibTransport(allow_insecure_http=False))
    assert (await transport.handle_async_request(post(server.url()), timeout=5)).status == 200


async def test_async_httpx_transport_leaves_given_client_open(
    server_factory: Callable[..., ScriptedServer],
) -> None:
    server = server_factory(respond(200, b"{}"), respond(200, b"{}"))
    async with httpx.AsyncClient() as client:
        transport = AsyncHttpxTransport(client=client)
        assert (await transport.handle_async_request(post(server.url()), timeout=5)).status == 200
        await transport.aclose()
        assert not client.is_closed
        assert (await transport.handle_async_request(post(server.url()), timeout=5)).status == 200
