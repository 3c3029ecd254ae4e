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

from typing import TYPE_CHECKING, Any

from ._urllib import AsyncUrllibTransport, UrllibTransport
from .base import AsyncTransport, Transport
from .mock import MockTransport

if TYPE_CHECKING:
    from ._httpx import AsyncHttpxTransport, HttpxTransport

__all__ = [
    "AsyncHttpxTransport",
    "AsyncTransport",
    "AsyncUrllibTransport",
    "HttpxTransport",
    "MockTransport",
    "Transport",
    "UrllibTransport",
]


def __getattr__(name: str) -> Any:
    if name in ("HttpxTransport", "AsyncHttpxTransport"):
        from . import _httpx  # raises ImportError with an install hint when httpx is missing

        return getattr(_httpx, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
