"""What every endpoint of one app shares: settings, the engine, pages, sessions, clock.

One :class:`ServerContext` is built per :func:`deviceflow.server.app.create_app` call and stored on
``app.state.ctx``; nothing here is a module-level singleton.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.types import Scope

from deviceflow.server.dialects import Dialect
from deviceflow.server.endpoints._http import header
from deviceflow.server.endpoints.session import SessionCodec
from deviceflow.server.grant import GrantEngine
from deviceflow.server.pages import Pages
from deviceflow.server.settings import Settings, Tenant

_SPREAD = 0x9E3779B97F4B
"""An odd multiplier: ``n * _SPREAD`` modulo 2**48 is a bijection of 48-bit counters, so
consecutive ids look unrelated and stay distinct (see :meth:`ServerContext.request_id`)."""
_LOW48 = (1 << 48) - 1


def _guid_prefix(random16: bytes) -> str:
    """The first 24 characters of a version-4 GUID made of ``random16`` (version 4 and the
    RFC 4122 variant set): ``xxxxxxxx-xxxx-4xxx-[89ab]xxx-``."""
    h = random16.hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-"


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
    """Randomness for request ids (``trace_id``, Graph ``request-id``): their random part is
    drawn at the first one."""
    _ids: list[tuple[str, Iterator[int]]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def request_id(self) -> str:
        """A fresh GUID, in version 4's shape, for ``trace_id`` / ``request-id`` (not a secret,
        just unique).

        It runs on every Microsoft-dialect token answer, so no random draw is made per id: the
        first 24 characters (74 random bits) are drawn once from :attr:`rng` (per app), the
        last 48 bits are a counter from a random start, spread by an odd multiplier (unique for
        2**48 ids, and not sequential to the eye).
        """
        ids = self._ids
        if not ids:
            seed = self.rng(22)
            ids.append((_guid_prefix(seed[:16]), itertools.count(int.from_bytes(seed[16:], "big"))))
        prefix, counter = ids[0]
        return f"{prefix}{next(counter) * _SPREAD & _LOW48:012x}"

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
