"""The serving machinery of ``deviceflow serve``: the socket, uvicorn, the ready lines.

:mod:`deviceflow.server.run` reads flags and settings, opens storage and maps failures to exit
codes. This module binds the socket (:func:`bind`), builds uvicorn's options
(:func:`uvicorn_options`, shared with the test server and the benchmark's bare-ASGI ceiling),
runs the event loop (:func:`run_event_loop`), drains on the first stop signal
(:func:`draining_server`) and prints what it prints once it listens (:func:`ready_lines`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import socket
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TextIO

from deviceflow.server.background import READY
from deviceflow.server.dialects import dialect_named

if TYPE_CHECKING:
    import argparse
    from types import FrameType

    import uvicorn

    from deviceflow.server.endpoints.health import Health
    from deviceflow.server.grant import GrantEngine
    from deviceflow.server.settings import Settings
    from deviceflow.server.storage import Storage
    from deviceflow.server.tls import TlsFiles

logger = logging.getLogger("deviceflow.server")


def issuer_lines(settings: Settings, engine: GrantEngine) -> list[str]:
    """One line per tenant: the issuer to give strict OpenID Connect clients.

    An RFC tenant is the issuer of each of its names (the one in the discovery URL); a Microsoft
    tenant's issuer names it by GUID whatever name the client uses, as Entra does.
    """
    lines = []
    for tenant in settings.tenants:
        name = dialect_named(tenant.dialect).issuer_name(tenant.id, tenant.guid)
        line = f"tenant {tenant.id} ({tenant.dialect}): issuer {engine.issuer(tenant, name)}"
        if name != tenant.id:
            line += " (under every tenant name: strict clients must be given this issuer)"
        lines.append(line)
    return lines


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a busy port is a clean error, not an exit.

    Raises:
        OSError: The address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


GC_YOUNG_THRESHOLD = 20_000
"""Allocations between two collections of the youngest generation once ``deviceflow serve``
has started (CPython's default is 700)."""


def uvicorn_options() -> dict[str, object]:
    """uvicorn options shared by ``deviceflow serve`` and the benchmark's bare-ASGI ceiling.

    ``http`` is uvicorn's native parser (``httptools``, pinned in the ``server`` extra) with the
    head size limits and read timeouts of :mod:`deviceflow.server.http_limits` and the poll lane
    of :mod:`deviceflow.server.poll_lane` (inert for an app without ``answer_now``, such as the
    ceiling), else the pure-Python one with its head size cap; the event loop is chosen by
    :func:`run_event_loop`.
    """
    try:
        from deviceflow.server.poll_lane import protocol_options
    except ImportError:  # pragma: no cover - the server extra pins httptools
        limits: dict[str, object] = {"http": "h11", "h11_max_incomplete_event_size": 32 * 1024}
    else:
        limits = protocol_options()
    return {
        **limits,
        "log_config": None,
        "access_log": False,  # uvicorn's access log would print query strings (user codes)
        "server_header": False,
        # uvicorn believes X-Forwarded-For from loopback by default: off. The app believes it
        # from `trusted_proxies` only (deviceflow.server.proxies).
        "proxy_headers": False,
        "lifespan": "off",  # the bench's bare ASGI ceiling has none; serve turns it on
        # Idle keep-alive connections (TLS ones linger) must not hold a stop forever.
        "timeout_graceful_shutdown": 5,
    }


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop when it is installed (the ``server`` extra), else on asyncio."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the server extra pins uvloop (not on Windows)
        asyncio.run(main)
    else:
        uvloop.run(main)


def draining_server(config: uvicorn.Config, health: Health, drain: float) -> uvicorn.Server:
    """A uvicorn server whose first stop signal starts a drain of ``drain`` seconds: ``/readyz``
    answers 503 (``health.draining``) while requests are still served; then it stops as uvicorn
    does (no new connections, requests in flight finished). A second signal stops at once."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        drain_until: float | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if drain > 0 and self.drain_until is None and not self.should_exit:
                health.draining = True
                self.drain_until = time.monotonic() + drain
                logger.info("stop requested: draining for %g s (/readyz answers 503)", drain)
                return
            super().handle_exit(sig, frame)

        async def on_tick(self, counter: int) -> bool:
            if self.drain_until is not None and time.monotonic() >= self.drain_until:
                self.should_exit = True
            return await super().on_tick(counter)

    return DrainingServer(config)


def listen_url(sock: socket.socket, *, tls: bool) -> str:
    """The URL of the address ``sock`` is bound to (what this process listens on)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def ready_lines(settings: Settings, engine: GrantEngine, listening: str) -> str:
    """What is printed once the socket listens: the address, ``public_url`` if it differs,
    then each tenant's issuer (one block, one write: :mod:`~deviceflow.server.background`
    reads it as complete once it sees its first line)."""
    lines = [f"{READY}{listening}"]
    if settings.public_url and settings.public_url.rstrip("/") != listening:
        lines.append(f"public URL (in issuers and links): {settings.public_url}")
    return "\n".join([*lines, *issuer_lines(settings, engine)]) + "\n"


async def serve(
    settings: Settings,
    args: argparse.Namespace,
    sock: socket.socket,
    storage: Storage,
    out: TextIO,
    tls: TlsFiles | None = None,
    metrics_sock: socket.socket | None = None,
) -> None:
    import uvicorn

    from deviceflow.server.app import create_app
    from deviceflow.server.endpoints.health import MetricsSplit

    app = create_app(settings, storage=storage, clock=time.time, rng=secrets.token_bytes)
    for hidden in app.state.ctx.engine.accounts.shadowed():
        logger.warning(
            "the configuration file defines %s too: the database's is not used"
            " (deviceflow admin ... delete it, or rename one)",
            hidden,
        )
    served: Any = app
    if metrics_sock is not None:
        port = metrics_sock.getsockname()[1]
        served = MetricsSplit(app, page=app.state.metrics_page, port=port)
    if settings.test_control:
        token = app.state.ctx.settings.test_control_token
        print(f"deviceflow serve: test-control API on; token: {token}", file=out, flush=True)
    config = uvicorn.Config(
        served,
        host=args.host,
        port=args.port,
        # The app's lifespan purges expired rows on a schedule (deviceflow.server.purge).
        **{**uvicorn_options(), "lifespan": "on"},  # type: ignore[arg-type]
        ssl_certfile=str(tls.certfile) if tls else None,
        ssl_keyfile=str(tls.keyfile) if tls else None,
    )
    server = draining_server(config, app.state.health, settings.shutdown_drain)
    sockets = [sock, *([metrics_sock] if metrics_sock is not None else [])]
    task = asyncio.create_task(server.serve(sockets=sockets))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        # What exists now (modules, settings, the app, its routes and engine) lives as long as
        # the process: out of the collector's sight, a full collection walks only what requests
        # made since, a few milliseconds rather than tens of event-loop milliseconds each time
        # a fleet's churn of request objects triggers one.
        gc.freeze()
        # Each request leaves a few dozen short-lived containers behind; at the default
        # threshold (700 allocations) the young generation is collected about once a request
        # burst, and a fleet's polls spent a tenth of their time there. Collecting every
        # GC_YOUNG_THRESHOLD allocations walks about as many live objects each time (those of
        # the requests in flight), a fraction as often.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        if metrics_sock is not None:
            host, port = metrics_sock.getsockname()[:2]
            print(f"deviceflow metrics on http://{host}:{port}/metrics", file=out, flush=True)
        listening = listen_url(sock, tls=tls is not None)
        out.write(ready_lines(settings, app.state.ctx.engine, listening))
        out.flush()
    await task
