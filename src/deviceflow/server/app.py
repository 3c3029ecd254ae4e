"""``create_app``: the ASGI application of the authorization server.

One call builds everything one server needs (engine, pages, session codec, routes) from what it
is given; there is no module-level app, engine or settings. Routes, by area:

- per tenant (Microsoft's layout): ``/{tenant}/oauth2/v2.0/devicecode``, ``.../token``,
  ``.../revoke``, the v1 ``/{tenant}/oauth2/devicecode`` and ``.../token``
  (``endpoints.oauth``), discovery and JWKS (``endpoints.discovery``);
- verification pages: ``/devicelogin`` (``endpoints.verification``); "your devices":
  ``/devices`` (``endpoints.devices``); the logout endpoint
  discovery lists, ``/{tenant}/oauth2/v2.0/logout`` and v1's (``endpoints.logout``);
- Graph emulation: ``/v1.0/me``, ``/v1.0/me/presence``, and the ``/presence`` page;
- probes: ``/healthz`` and ``/readyz``; with ``settings.metrics`` (and no ``metrics_address``):
  ``/metrics`` (``endpoints.health``);
- with ``settings.test_control``: ``/test-control/...`` (``testcontrol``).

Every response carries an ``X-Request-Id`` (``endpoints._observe``). Token requests are served
by one layer in front of all the others, the framework's included (``endpoints._hotpath``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles

from deviceflow.server import errors, testcontrol
from deviceflow.server.dialects import registered
from deviceflow.server.endpoints import (
    devices,
    discovery,
    health,
    logout,
    microsoft,
    oauth,
    verification,
)
from deviceflow.server.endpoints._access import PollTally
from deviceflow.server.endpoints._hotpath import TOKEN_SUFFIXES, TokenHotPath
from deviceflow.server.endpoints._http import AccessLog, QuietDisconnect, RefuseUndecodableQuery
from deviceflow.server.endpoints._observe import RequestContext, RequestIds
from deviceflow.server.endpoints.context import ServerContext
from deviceflow.server.endpoints.session import SessionCodec
from deviceflow.server.grant import GrantEngine
from deviceflow.server.graph import routes as graph_routes
from deviceflow.server.graph._presence import Presence
from deviceflow.server.metrics import NO_METRICS, PrometheusRecorder, Recorder
from deviceflow.server.pages import Pages, favicon
from deviceflow.server.purge import Purger
from deviceflow.server.security import secret_key_bytes
from deviceflow.server.settings import Settings
from deviceflow.server.storage.base import Storage

_SESSION_KEY_NAMESPACE = "web"
_SESSION_KEY_NAME = "session_key"


def session_key(settings: Settings, storage: Storage, rng: Callable[[int], bytes]) -> bytes:
    """The HMAC key of the pages' session cookies and CSRF tokens.

    Derived from ``settings.secret_key`` when one is configured; otherwise generated once and kept
    in storage, so sessions survive a restart and are shared by instances on one database.

    Raises:
        ValueError: The configured ``secret_key`` is too weak (see ``security.secret_key_bytes``).
    """
    if settings.secret_key:
        key = secret_key_bytes(settings.secret_key)
        return hmac.new(key, b"deviceflow session", hashlib.sha256).digest()
    storage.put_value(_SESSION_KEY_NAMESPACE, _SESSION_KEY_NAME, rng(32).hex(), replace=False)
    stored = storage.get_value(_SESSION_KEY_NAMESPACE, _SESSION_KEY_NAME)
    assert stored is not None
    return bytes.fromhex(stored)


def create_app(
    settings: Settings,
    *,
    storage: Storage,
    clock: Callable[[], float],
    rng: Callable[[int], bytes],
) -> Starlette:
    """Build the authorization server's ASGI app.

    Args:
        settings: Tenants, clients, users, lifetimes and limits.
        storage: Where grants, counters and keys live (shared by every instance of a deployment).
        clock: Wall-clock seconds since the epoch (expiry, token times).
        rng: Cryptographically secure random bytes (codes, keys, session ids).

    Returns:
        The Starlette application; ``app.state.ctx`` holds the :class:`ServerContext`.

    Raises:
        ValueError: a tenant names an unknown dialect (one not registered).
    """
    if settings.test_control and not settings.test_control_token:
        settings = dataclasses.replace(settings, test_control_token=testcontrol.new_token(rng))
    recorder = _recorder(settings, storage, clock, lambda: engine.settings)
    engine = GrantEngine(settings, storage=storage, clock=clock, rng=rng, recorder=recorder)
    pages = Pages()
    page_routes = verification.routes()
    ctx = ServerContext(
        settings=settings,
        engine=engine,
        pages=pages,
        sessions=SessionCodec(session_key(settings, storage, rng), clock=clock, rng=rng),
        clock=clock,
        dialects=registered(),
        paths={"devicelogin": Router(routes=page_routes).url_path_for("devicelogin")},
        rng=rng,
    )
    static = StaticFiles(packages=[("deviceflow.server.pages", "static")])
    oauth_routes = oauth.routes(ctx)
    faults = testcontrol.Faults() if settings.test_control else None
    if faults is not None:  # the token endpoints answer queued failures first
        oauth_routes = testcontrol.wrap_token_routes(oauth_routes, faults, ctx)
    token_routes = {r.name: r for r in oauth_routes if r.name in ("token", "token_v1")}
    metrics_page = (
        health.MetricsPage(recorder) if isinstance(recorder, PrometheusRecorder) else None
    )
    routes: list[BaseRoute] = [
        # The OAuth endpoints come first: they are the hot path.
        *oauth_routes,
        *health.routes(),
        *(
            [Route("/metrics", metrics_page)]
            if metrics_page and not settings.metrics_address
            else []
        ),
        *page_routes,
        *graph_routes(),
        *discovery.routes(),
        *microsoft.routes(),
        *logout.routes(),
        *devices.routes(),
        Mount("/static", static, name="static"),
        Route("/favicon.ico", favicon, methods=["GET"], name="favicon"),
        *(testcontrol.routes() if faults is not None else ()),
    ]

    polls = PollTally()  # the access log's summary of routine token polls
    purger = Purger(
        storage,
        clock=clock,
        interval=settings.purge_interval,
        retention=settings.lifetimes.expired_retention,
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Expired rows are purged on a schedule while the app runs (deviceflow.server.purge).
        # The awaited polls' connections belong to this loop: close them before it ends.
        # (Without lifespan events, storage.close() closes them, and nothing purges.)
        async with purger.running():
            try:
                yield
            finally:
                polls.flush()  # the routine polls counted since the last summary line
                await engine.device.aclose()

    ids = RequestIds(rng)
    metered = recorder if isinstance(recorder, PrometheusRecorder) else None
    # Token requests are served in front of every layer below (endpoints._hotpath), the
    # configured proxies' included (forwarded headers count from those only: server.proxies).
    app = TokenHotPath(
        tokens={
            TOKEN_SUFFIXES[version]: (token_routes[name].endpoint, token_routes[name].path)
            for version, name in (("v2", "token"), ("v1", "token_v1"))
        },
        ids=ids,
        polls=polls,
        on_error=errors.server_error_handler,
        recorder=metered,
        trusted_proxies=settings.trusted_proxies,
        routes=routes,
        lifespan=lifespan,
        middleware=[
            # The request id, the log context, the latency (endpoints._observe).
            Middleware(RequestContext, ids=ids, recorder=metered),
            # A client that hangs up mid-body ends its request quietly.
            Middleware(QuietDisconnect),
            Middleware(AccessLog),
            Middleware(RefuseUndecodableQuery),
        ],
        exception_handlers={
            HTTPException: errors.http_exception_handler,
            Exception: errors.server_error_handler,
        },
    )
    app.state.ctx = ctx
    app.state.pages = pages
    app.state.presence = Presence(storage)
    app.state.test_control = faults
    app.state.health = health.Health(storage)
    app.state.metrics_page = metrics_page
    app.state.polls = polls
    return app


def _recorder(
    settings: Settings,
    storage: Storage,
    clock: Callable[[], float],
    current: Callable[[], Settings],
) -> Recorder:
    """The metrics recorder: counting into Prometheus with ``metrics`` on, else nothing.

    Raises:
        ImportError: metrics are on and ``prometheus_client`` is missing (the ``metrics``
            extra); the message is the install hint.
    """
    if not (settings.metrics or settings.metrics_address):
        return NO_METRICS
    try:
        return PrometheusRecorder(
            tenants=lambda name: current().tenant(name) is not None,
            clients=lambda client_id: current().client(client_id) is not None,
            pending=lambda: storage.count_pending(clock()),
        )
    except ImportError as exc:
        from deviceflow.server.metrics import INSTALL_HINT

        raise ImportError(INSTALL_HINT) from exc
