"""What every endpoint of one app shares: settings, the engine, pages, sessions, clock.

One :class:`ServerContext` is built per :func:`deviceflow.server.app.create_app` call and stored on
``app.state.ctx``; nothing here is a module-level singleton.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.types import Scope

from deviceflow.server.dialects import Dialect
from deviceflow.server.endpoints._http import header
from deviceflow.server.endpoints.session import SessionCodec
from deviceflow.server.grant import GrantEngine
from deviceflow.server.pages import Pages
from deviceflow.server.settings import Settings, Tenant

_V4_KEEP = ~((0xF0 << 72) | (0xC0 << 56))
_V4_SET = (0x40 << 72) | (0x80 << 56)
"""A version-4 GUID's fixed bits (version 4, RFC 4122 variant) in its 128-bit integer."""


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
    """Randomness for request ids (``trace_id``, Graph ``request-id``): it seeds their
    generator at the first one."""
    _ids: list[random.Random] = field(default_factory=list, init=False, repr=False, compare=False)

    def request_id(self) -> str:
        """A fresh version-4 GUID for ``trace_id`` / ``request-id`` (not a secret, just unique).

        It runs on every Microsoft-dialect token answer, so the 128 bits come from a generator
        seeded once from :attr:`rng` rather than from a system call each.
        """
        ids = self._ids
        if not ids:
            ids.append(random.Random(int.from_bytes(self.rng(16), "big")))
        h = f"{ids[0].getrandbits(128) & _V4_KEEP | _V4_SET:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def base_url(self, scope: Scope, host: str | None = None) -> str:
        """The public base URL: ``settings.public_url``, else the URL the request arrived at
        (``host``: the request's ``Host`` header when the caller has read it already)."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        host = host or header(scope, b"host") or "localhost"
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
