"""What every endpoint of one app shares: settings, the engine, pages, sessions, clock.

One :class:`ServerContext` is built per :func:`deviceflow.server.app.create_app` call and stored on
``app.state.ctx``; nothing here is a module-level singleton.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import Scope

from deviceflow.server.dialects import Dialect
from deviceflow.server.endpoints._http import header
from deviceflow.server.endpoints.session import SessionCodec
from deviceflow.server.grant import GrantEngine
from deviceflow.server.pages import Pages
from deviceflow.server.settings import Settings, Tenant


@dataclass(frozen=True)
class ServerContext:
    """Shared, immutable per-app state."""

    settings: Settings
    engine: GrantEngine
    pages: Pages
    sessions: SessionCodec
    clock: Callable[[], float]
    dialects: Mapping[str, Dialect]
    paths: Mapping[str, str]
    """Route name -> path of the fixed routes that appear in API bodies (``devicelogin``)."""
    rng: Callable[[int], bytes]
    """Randomness for request ids (``trace_id``, Graph ``request-id``)."""

    def request_id(self) -> str:
        """A fresh GUID for ``trace_id`` / ``request-id`` (not a secret, just unique)."""
        # str(uuid.UUID(bytes=..., version=4)), spelled out: it runs on every token request.
        raw = bytearray(self.rng(16))
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def base_url(self, scope: Scope) -> str:
        """The public base URL: ``settings.public_url``, else the URL the request arrived at."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        host = header(scope, b"host") or "localhost"
        return f"{scope.get('scheme', 'http')}://{host}"

    def dialect(self, tenant: Tenant) -> Dialect:
        """The dialect ``tenant`` speaks."""
        return self.dialects[tenant.dialect]


def context_of(request: Request) -> ServerContext:
    """The :class:`ServerContext` of the app serving ``request``."""
    ctx = request.app.state.ctx
    assert isinstance(ctx, ServerContext)
    return ctx


def format_time(epoch: float) -> str:
    """A wall-clock time for people: ``2026-01-31 14:05 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
