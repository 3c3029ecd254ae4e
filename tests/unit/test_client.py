"""DeviceFlowClient and AsyncDeviceFlowClient over MockTransport, with an injected clock.

Every test runs against both clients (the ``kind`` fixture); ``call`` awaits the async client's
coroutines and passes the sync client's results through. Time is a fake: ``sleep`` advances the
clock, so nothing here really waits.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest

from deviceflow.client import START_ATTEMPTS, AsyncDeviceFlowClient, DeviceFlowClient
from deviceflow.core import (
    AuthorizationPending,
    Endpoints,
    HttpRequest,
    HttpResponse,
    Retrying,
    SlowDown,
    Token,
)
from deviceflow.errors import (
    AccessDeniedError,
    ConnectError,
    ExpiredTokenError,
    FlowCancelledError,
    InvalidClientError,
    InvalidGrantError,
    InvalidScopeError,
    LocalProtocolError,
    ReadError,
    ReadTimeoutError,
    RemoteProtocolError,
    TLSError,
)
from deviceflow.transports import MockTransport

pytestmark = pytest.mark.anyio

AUTHORITY = "https://login.example.test/contoso"
ENDPOINTS = Endpoints(
    device_authorization_url="https://idp.example.test/device",
    token_url="https://idp.example.test/token",
    dialect="rfc8628",
)
DEVICE_CODE = "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS"
USER_CODE = "WDJB-MJHT"
ACCESS_TOKEN = "at-0123456789-secret"
REFRESH_TOKEN = "rt-9876543210-secret"
WALL_OFFSET = 1_700_000_000.0

Outcome = HttpResponse | Exception


def json_response(status: int, body: dict[str, Any], **headers: str) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers={"Content-Type": "application/json", **headers},
        body=json.dumps(body).encode(),
    )


def device_code(interval: int = 5, expires_in: int = 900) -> HttpResponse:
    return json_response(
        200,
        {
            "device_code": DEVICE_CODE,
            "user_code": USER_CODE,
            "verification_uri": "https://idp.example.test/activate",
            "expires_in": expires_in,
            "interval": interval,
        },
    )


def oauth_error(code: str) -> HttpResponse:
    return json_response(400, {"error": code})


def token(refresh: bool = True) -> HttpResponse:
    body: dict[str, Any] = {
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    if refresh:
        body["refresh_token"] = REFRESH_TOKEN
    return json_response(200, body)


class FakeTime:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_OFFSET + self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


class Server:
    """Scripted answers; records when (on the fake clock) each request arrived."""

    def __init__(self, time: FakeTime, *outcomes: Outcome) -> None:
        self.time = time
        self.outcomes = list(outcomes)
        self.seen: list[tuple[float, HttpRequest]] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.seen.append((self.time.now, request))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def poll_times(self) -> list[float]:
        return [at for at, request in self.seen if request.url == ENDPOINTS.token_url]

    def form(self, index: int) -> dict[str, list[str]]:
        return parse_qs(self.seen[index][1].body.decode())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


Client = DeviceFlowClient | AsyncDeviceFlowClient


@pytest.fixture
def make_client(kind: str, fake_time: FakeTime) -> Callable[..., Client]:
    def make(*outcomes: Outcome, **options: Any) -> Client:
        server = Server(fake_time, *outcomes)
        options.setdefault("endpoints", ENDPOINTS)
        transport = MockTransport(server)
        client: Client
        if kind == "sync":
            client = DeviceFlowClient(
                "client-1",
                transport=transport,
                clock=fake_time.clock,
                sleep=fake_time.sleep,
                wall_clock=fake_time.wall,
                **options,
            )
        else:
            client = AsyncDeviceFlowClient(
                "client-1",
                transport=transport,
                clock=fake_time.clock,
                sleep=fake_time.async_sleep,
                wall_clock=fake_time.wall,
                **options,
            )
        client.server = server  # type: ignore[union-attr]
        return client

    return make


async def call(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


def server_of(client: Client) -> Server:
    return client.server  # type: ignore[union-attr, no-any-return]


# --- the happy path -------------------------------------------------------------------------------


async def test_client_start_sends_device_request_and_returns_issued(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(device_code(interval=5, expires_in=900))
    issued = await call(client.start(["openid", "User.Read"]))
    assert issued.user_code == USER_CODE
    assert issued.verification_uri == "https://idp.example.test/activate"
    assert issued.expires_at == 1900.0
    request = server_of(client).seen[0][1]
    assert request.url == ENDPOINTS.device_authorization_url
    assert server_of(client).form(0) == {"client_id": ["client-1"], "scope": ["openid User.Read"]}


async def test_client_wait_polls_on_interval_and_returns_token_on_wall_clock(
    make_client: Callable[..., Client], fake_time: FakeTime
) -> None:
    client = make_client(device_code(interval=5), oauth_error("authorization_pending"), token())
    issued = await call(client.start("User.Read"))
    events: list[object] = []
    result = await call(client.wait(issued, on_pending=events.append))
    assert result.access_token == ACCESS_TOKEN
    assert result.issued_at == pytest.approx(fake_time.wall())
    assert result.expires_at == pytest.approx(fake_time.wall() + 3600)
    assert [type(event) for event in events] == [AuthorizationPending]
    first, second = server_of(client).poll_times()
    assert 5 <= first - 1000 <= 7  # one interval after issue, padded a little for clock drift
    assert 5 <= second - first <= 7
    form = server_of(client).form(1)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:device_code"]
    assert form["device_code"] == [DEVICE_CODE]
    assert form["client_id"] == ["client-1"]


async def test_client_slow_down_adds_five_seconds_for_the_rest_of_the_flow(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(
        device_code(interval=2),
        oauth_error("authorization_pending"),
        oauth_error("slow_down"),
        oauth_error("authorization_pending"),
        oauth_error("authorization_pending"),
        token(),
    )
    events: list[object] = []
    await call(client.wait(await call(client.start()), on_pending=events.append))
    times = [1000.0, *server_of(client).poll_times()]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert all(2 <= gap <= 3 for gap in gaps[:2])  # before slow_down took effect
    assert all(7 <= gap <= 10 for gap in gaps[2:])  # 2 + 5 s, kept for every later poll
    slow = [event for event in events if isinstance(event, SlowDown)]
    assert [event.interval for event in slow] == [7]


# --- transient faults -----------------------------------------------------------------------------


async def test_client_transient_faults_are_retried_with_growing_backoff(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(
        device_code(interval=1),
        ConnectError("refused"),
        ReadError("reset"),
        ReadTimeoutError("slow"),
        HttpResponse(status=503, body=b"<html>busy</html>"),
        HttpResponse(status=502),
        token(),
    )
    events: list[object] = []
    result = await call(client.wait(await call(client.start()), on_pending=events.append))
    assert result.access_token == ACCESS_TOKEN
    assert [type(event) for event in events] == [Retrying] * 5
    assert [event.attempt for event in events] == [1, 2, 3, 4, 5]  # type: ignore[attr-defined]
    assert [event.status for event in events] == [None, None, None, 503, 502]  # type: ignore[attr-defined]
    times = server_of(client).poll_times()
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert gaps == sorted(gaps)  # exponential back-off
    assert gaps[-1] >= 4 * gaps[0]


async def test_client_429_honours_retry_after(make_client: Callable[..., Client]) -> None:
    client = make_client(
        device_code(interval=1),
        HttpResponse(status=429, headers={"Retry-After": "30"}),
        token(),
    )
    events: list[Any] = []
    await call(client.wait(await call(client.start()), on_pending=events.append))
    first, second = server_of(client).poll_times()
    assert second - first >= 30
    assert events[0].retry_after == 30


async def test_client_faults_until_expiry_end_in_expired_token_error(
    make_client: Callable[..., Client], fake_time: FakeTime
) -> None:
    client = make_client(device_code(interval=5, expires_in=300), *[ConnectError("down")] * 50)
    issued = await call(client.start())
    with pytest.raises(ExpiredTokenError):
        await call(client.wait(issued))
    assert fake_time.now == pytest.approx(issued.expires_at)
    polls = server_of(client).poll_times()
    assert 3 <= len(polls) <= 15  # backed off, yet kept trying until the code expired
    assert max(polls) < issued.expires_at


async def test_client_pending_until_expiry_ends_in_expired_token_error(
    make_client: Callable[..., Client], fake_time: FakeTime
) -> None:
    client = make_client(
        device_code(interval=5, expires_in=60), *[oauth_error("authorization_pending")] * 20
    )
    issued = await call(client.start())
    with pytest.raises(ExpiredTokenError):
        await call(client.wait(issued))
    assert fake_time.now == pytest.approx(issued.expires_at)


async def test_client_tls_error_is_fatal_at_once(make_client: Callable[..., Client]) -> None:
    client = make_client(device_code(), TLSError("bad certificate"), token())
    with pytest.raises(TLSError):
        await call(client.wait(await call(client.start())))
    assert len(server_of(client).poll_times()) == 1


@pytest.mark.parametrize(
    ("code", "error"),
    [
        pytest.param("access_denied", AccessDeniedError, id="denied"),
        pytest.param("authorization_declined", AccessDeniedError, id="declined-v1"),
        pytest.param("expired_token", ExpiredTokenError, id="expired"),
        pytest.param("invalid_grant", InvalidGrantError, id="invalid-grant"),
    ],
)
async def test_client_terminal_error_is_raised(
    make_client: Callable[..., Client], code: str, error: type[Exception]
) -> None:
    client = make_client(device_code(), oauth_error(code))
    with pytest.raises(error):
        await call(client.wait(await call(client.start())))


async def test_client_start_error_is_raised(make_client: Callable[..., Client]) -> None:
    client = make_client(
        json_response(400, {"error": "invalid_client", "error_codes": [7000218]}),
    )
    with pytest.raises(InvalidClientError, match="Allow public client flows"):
        await call(client.start())


async def test_client_start_transport_fault_is_raised_after_the_attempts(
    make_client: Callable[..., Client], fake_time: FakeTime
) -> None:
    client = make_client(*[ConnectError("refused")] * START_ATTEMPTS)
    with pytest.raises(ConnectError):
        await call(client.start())
    assert len(server_of(client).seen) == START_ATTEMPTS
    assert fake_time.sleeps == [1.0, 2.0]


async def test_client_start_retries_transient_faults_then_succeeds(
    make_client: Callable[..., Client], fake_time: FakeTime
) -> None:
    busy = HttpResponse(status=503, body=b"<html>busy</html>")
    client = make_client(ConnectError("refused"), busy, device_code())
    issued = await call(client.start())
    assert issued.user_code
    assert len(server_of(client).seen) == 3
    assert fake_time.sleeps == [1.0, 2.0]


async def test_client_start_refusal_is_not_retried(make_client: Callable[..., Client]) -> None:
    client = make_client(oauth_error("invalid_scope"), device_code())
    with pytest.raises(InvalidScopeError):
        await call(client.start())
    assert len(server_of(client).seen) == 1


# --- cancellation ---------------------------------------------------------------------------------


async def test_client_should_cancel_stops_with_flow_cancelled_error(
    make_client: Callable[..., Client], fake_time: FakeTime
) -> None:
    client = make_client(device_code(interval=5), *[oauth_error("authorization_pending")] * 5)
    issued = await call(client.start())
    with pytest.raises(FlowCancelledError):
        await call(client.wait(issued, should_cancel=lambda: fake_time.now >= 1008))
    assert len(server_of(client).poll_times()) == 1
    assert fake_time.now < 1009  # noticed within a fraction of a second
    assert max(fake_time.sleeps) <= 0.25


async def test_client_keyboard_interrupt_passes_through(
    kind: str, make_client: Callable[..., Client], fake_time: FakeTime
) -> None:
    client = make_client(device_code())
    issued = await call(client.start())

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    async def async_interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    client._sleep = interrupt if kind == "sync" else async_interrupt  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        await call(client.wait(issued))


async def test_async_client_task_cancellation_propagates() -> None:
    fake_time = FakeTime()
    started = asyncio.Event()

    async def sleep_forever(seconds: float) -> None:
        started.set()
        await asyncio.Event().wait()

    server = Server(fake_time, device_code())
    client = AsyncDeviceFlowClient(
        "client-1",
        endpoints=ENDPOINTS,
        transport=MockTransport(server),
        clock=fake_time.clock,
        sleep=sleep_forever,
    )
    issued = await client.start()
    task = asyncio.create_task(client.wait(issued))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.poll_times() == []


async def test_client_wait_needs_its_own_issued_once(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(device_code(), token())
    other = make_client(device_code())
    foreign = await call(other.start())
    with pytest.raises(LocalProtocolError):
        await call(client.wait(foreign))
    issued = await call(client.start())
    await call(client.wait(issued))
    with pytest.raises(LocalProtocolError):
        await call(client.wait(issued))


# --- refresh --------------------------------------------------------------------------------------


async def test_client_refresh_with_token_reuses_scopes_and_keeps_refresh_token(
    make_client: Callable[..., Client], fake_time: FakeTime
) -> None:
    old = Token(
        access_token="old",
        issued_at=0,
        expires_in=10,
        refresh_token=REFRESH_TOKEN,
        scopes=("User.Read", "offline_access"),
    )
    client = make_client(token(refresh=False))
    new = await call(client.refresh(old))
    assert new.access_token == ACCESS_TOKEN
    assert new.refresh_token == REFRESH_TOKEN  # RFC 6749 §6: the old one stays valid
    assert new.issued_at == fake_time.wall()
    form = server_of(client).form(0)
    assert form["grant_type"] == ["refresh_token"]
    assert form["refresh_token"] == [REFRESH_TOKEN]
    assert form["scope"] == ["User.Read offline_access"]


async def test_client_refresh_with_string_and_scopes(make_client: Callable[..., Client]) -> None:
    client = make_client(token())
    new = await call(client.refresh("rt-given", ["Mail.Read"]))
    assert new.refresh_token == REFRESH_TOKEN
    form = server_of(client).form(0)
    assert (form["refresh_token"], form["scope"]) == (["rt-given"], ["Mail.Read"])


async def test_client_refresh_with_claims_sends_them(make_client: Callable[..., Client]) -> None:
    claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000001"}}}'
    client = make_client(token())
    await call(client.refresh("rt-given", claims=claims))
    assert server_of(client).form(0)["claims"] == [claims]


async def test_client_polls_carry_the_claims_given_to_start(
    make_client: Callable[..., Client],
) -> None:
    claims = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}'
    client = make_client(device_code(interval=1), oauth_error("authorization_pending"), token())
    issued = await call(client.start("User.Read", claims=claims))
    await call(client.wait(issued))
    assert "claims" not in server_of(client).form(0)  # the device request: the polls carry them
    assert [server_of(client).form(i)["claims"] for i in (1, 2)] == [[claims], [claims]]
    assert server_of(client).form(1)["device_code"] == [DEVICE_CODE]
    plain = make_client(device_code(interval=1), token())
    await call(plain.wait(await call(plain.start("User.Read"))))
    assert "claims" not in server_of(plain).form(1)


async def test_client_refresh_without_refresh_token_is_refused(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()
    with pytest.raises(LocalProtocolError, match="no refresh token"):
        await call(client.refresh(Token(access_token="a", issued_at=0)))
    assert server_of(client).seen == []


async def test_client_refresh_invalid_grant_is_raised(make_client: Callable[..., Client]) -> None:
    client = make_client(oauth_error("invalid_grant"))
    with pytest.raises(InvalidGrantError):
        await call(client.refresh("rt"))


# --- endpoints ------------------------------------------------------------------------------------


def metadata(issuer: str, **extra: str) -> HttpResponse:
    return json_response(
        200,
        {
            "issuer": issuer,
            "token_endpoint": issuer + "/token",
            "device_authorization_endpoint": issuer + "/device",
            **extra,
        },
    )


async def test_client_issuer_is_discovered_oidc_first_then_rfc8414(
    make_client: Callable[..., Client],
) -> None:
    issuer = "https://idp.example.test/realm"
    client = make_client(
        HttpResponse(status=404), metadata(issuer), device_code(), endpoints=None, issuer=issuer
    )
    await call(client.start())
    urls = [request.url for _, request in server_of(client).seen]
    assert urls == [
        issuer + "/.well-known/openid-configuration",
        "https://idp.example.test/.well-known/oauth-authorization-server/realm",
        issuer + "/device",
    ]
    assert client.endpoints is not None
    assert client.endpoints.token_url == issuer + "/token"


async def test_client_discovery_is_done_once(make_client: Callable[..., Client]) -> None:
    issuer = "https://idp.example.test"
    client = make_client(metadata(issuer), device_code(), token(), endpoints=None, issuer=issuer)
    await call(client.start())
    await call(client.refresh("rt"))
    assert len(server_of(client).seen) == 3


async def test_client_discovery_without_device_endpoint_fails_clearly(
    make_client: Callable[..., Client],
) -> None:
    issuer = "https://idp.example.test"
    no_device = json_response(200, {"issuer": issuer, "token_endpoint": issuer + "/token"})
    client = make_client(no_device, HttpResponse(status=404), endpoints=None, issuer=issuer)
    with pytest.raises(RemoteProtocolError, match="device_authorization_endpoint"):
        await call(client.start())


async def test_client_discovery_not_found_fails_clearly(
    make_client: Callable[..., Client],
) -> None:
    issuer = "https://idp.example.test"
    client = make_client(
        HttpResponse(status=404), HttpResponse(status=404), endpoints=None, issuer=issuer
    )
    with pytest.raises(RemoteProtocolError, match="no usable discovery document"):
        await call(client.start())


async def test_client_default_authority_is_microsoft_organizations_v2(kind: str) -> None:
    cls = DeviceFlowClient if kind == "sync" else AsyncDeviceFlowClient
    client = cls("client-1", transport=MockTransport(token))  # type: ignore[arg-type]
    assert client.endpoints is not None
    assert client.endpoints.device_authorization_url == (
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode"
    )
    assert client.endpoints.dialect == "v2"


async def test_client_authority_names_the_tenant(kind: str) -> None:
    cls = DeviceFlowClient if kind == "sync" else AsyncDeviceFlowClient
    client = cls("client-1", authority=AUTHORITY, transport=MockTransport(token))  # type: ignore[arg-type]
    assert client.endpoints is not None
    assert client.endpoints.token_url == AUTHORITY + "/oauth2/v2.0/token"


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"authority": AUTHORITY, "endpoints": ENDPOINTS}, id="authority+endpoints"),
        pytest.param({"authority": AUTHORITY, "issuer": "https://x.test"}, id="authority+issuer"),
    ],
)
async def test_client_conflicting_endpoint_options_are_rejected(
    kind: str, options: dict[str, Any]
) -> None:
    cls = DeviceFlowClient if kind == "sync" else AsyncDeviceFlowClient
    with pytest.raises(ValueError, match="at most one"):
        cls("client-1", **options)


async def test_client_empty_client_id_is_rejected(kind: str) -> None:
    cls = DeviceFlowClient if kind == "sync" else AsyncDeviceFlowClient
    with pytest.raises(ValueError, match="client_id"):
        cls("", endpoints=ENDPOINTS)


# --- logging --------------------------------------------------------------------------------------


async def test_client_logs_one_info_line_per_exchange_and_no_secrets(
    make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="deviceflow")
    client = make_client(
        device_code(interval=1),
        oauth_error("authorization_pending"),
        HttpResponse(status=503),
        ConnectError("refused"),
        oauth_error("slow_down"),
        token(),
        token(),
    )
    result = await call(client.wait(await call(client.start())))
    result = await call(client.refresh(result))
    assert result.access_token == ACCESS_TOKEN
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (DEVICE_CODE, USER_CODE, ACCESS_TOKEN, REFRESH_TOKEN):
        assert secret not in text
    exchanges = [
        record
        for record in caplog.records
        if record.levelno == logging.INFO and record.getMessage().startswith("POST ")
    ]
    assert len(exchanges) == 7  # start, five polls, refresh
    assert all(record.name == "deviceflow.client" for record in caplog.records)
    assert any("HTTP 503" in record.getMessage() for record in exchanges)
    assert any("ConnectError" in record.getMessage() for record in exchanges)
    assert all(isinstance(record.args, tuple) and record.args for record in exchanges)


# --- lifecycle ------------------------------------------------------------------------------------


class Closable(MockTransport):
    closed = False

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


async def test_client_does_not_close_a_transport_it_was_given(kind: str) -> None:
    transport = Closable(token)
    if kind == "sync":
        with DeviceFlowClient("c", endpoints=ENDPOINTS, transport=transport):
            pass
    else:
        async with AsyncDeviceFlowClient("c", endpoints=ENDPOINTS, transport=transport):
            pass
    assert not transport.closed


async def test_client_closes_the_transport_it_created(kind: str) -> None:
    if kind == "sync":
        with DeviceFlowClient("c", endpoints=ENDPOINTS) as client:
            client._transport = Closable(token)
    else:
        async with AsyncDeviceFlowClient("c", endpoints=ENDPOINTS) as async_client:
            await async_client.aclose()  # the default httpx transport
            async_client._transport = Closable(token)
        client = async_client  # type: ignore[assignment]
    assert client._transport.closed  # type: ignore[union-attr]


def test_async_client_default_transport_without_httpx_uses_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from deviceflow.transports import AsyncHttpxTransport, AsyncUrllibTransport

    assert isinstance(AsyncDeviceFlowClient("c")._transport, AsyncHttpxTransport)
    monkeypatch.setitem(sys.modules, "deviceflow.transports._httpx", None)
    assert isinstance(AsyncDeviceFlowClient("c")._transport, AsyncUrllibTransport)


def test_sync_client_default_transport_is_urllib() -> None:
    from deviceflow.transports import UrllibTransport

    assert isinstance(DeviceFlowClient("c")._transport, UrllibTransport)
