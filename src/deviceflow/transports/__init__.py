"""Transports send the core's :class:`~deviceflow.core.HttpRequest` values over the network.

- :class:`UrllibTransport` (the default; standard library only) and
  :class:`AsyncUrllibTransport` (the same in a worker thread, for asyncio without httpx);
- :class:`HttpxTransport` and :class:`AsyncHttpxTransport` when ``httpx`` is installed
  (``pip install 'deviceflow[httpx]'``); imported lazily so the package works without it;
- :class:`MockTransport` answers from a function, for tests and docs.

Write your own by implementing :class:`Transport` or :class:`AsyncTransport` from
:mod:`deviceflow.transports.base`.
"""

from __future__ import annotations

from deviceflow import _lazy_attributes

# ``typing.TYPE_CHECKING`` without importing typing; type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._httpx import AsyncHttpxTransport, HttpxTransport
    from ._urllib import AsyncUrllibTransport, UrllibTransport
    from .base import AsyncTransport, Transport
    from .mock import MockTransport
del TYPE_CHECKING

__all__ = [
    "AsyncHttpxTransport",
    "AsyncTransport",
    "AsyncUrllibTransport",
    "HttpxTransport",
    "MockTransport",
    "Transport",
    "UrllibTransport",
]

# Where each name lives, imported on first use: a program that sends with urllib does not load
# the mock transport (and ``inspect``), nor httpx.
_MODULES = {
    "AsyncHttpxTransport": "._httpx",  # raises ImportError with an install hint without httpx
    "HttpxTransport": "._httpx",
    "AsyncTransport": ".base",
    "Transport": ".base",
    "AsyncUrllibTransport": "._urllib",
    "UrllibTransport": "._urllib",
    "MockTransport": ".mock",
}
# httpx names are looked up on every use: the install hint whenever httpx is absent.
__getattr__, __dir__ = _lazy_attributes(globals(), _MODULES, uncached=("._httpx",))
