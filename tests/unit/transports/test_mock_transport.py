from __future__ import annotations

import pytest

from deviceflow.core import HttpRequest, HttpResponse
from deviceflow.errors import ReadError
from deviceflow.transports import AsyncTransport, MockTransport, Transport

REQUEST = HttpRequest(method="POST", url="https://login.example/token", body=b"a=b")


def test_mock_transport_answers_from_handler_and_records_requests() -> None:
    transport = MockTransport(lambda request: HttpResponse(status=200, body=request.body))
    assert transport.handle_request(REQUEST, timeout=7).body == b"a=b"
    assert transport.requests == [REQUEST]
    assert transport.timeouts == [7]
    assert isinstance(transport, Transport)
    assert isinstance(transport, AsyncTransport)


def test_mock_transport_handler_exception_propagates() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        raise ReadError("dropped", request=request)

    with pytest.raises(ReadError):
        MockTransport(handler).handle_request(REQUEST, timeout=1)


def test_mock_transport_sync_use_of_async_handler_is_a_type_error() -> None:
    async def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(status=200)

    with pytest.raises(TypeError, match="async client"):
        MockTransport(handler).handle_request(REQUEST, timeout=1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_mock_transport_async_accepts_sync_and_async_handlers() -> None:
    async def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(status=201)

    assert (await MockTransport(handler).handle_async_request(REQUEST, timeout=1)).status == 201
    sync = MockTransport(lambda request: HttpResponse(status=202))
    assert (await sync.handle_async_request(REQUEST, timeout=1)).status == 202
    assert sync.requests == [REQUEST]
