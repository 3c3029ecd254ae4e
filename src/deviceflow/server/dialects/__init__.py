"""Dialects: how one grant engine's results are spelled on the wire.

The ``rfc8628`` dialect speaks RFC 8628 / RFC 6749 exactly. The ``microsoft`` dialect speaks the
Microsoft identity platform: parameter aliases, v1 and v2.0 bodies in Entra's member order, and
Entra's error bodies with their AADSTS numbers (mapped from the engine's neutral reasons in
``_aadsts``). A new dialect is one module with a class implementing :class:`Dialect` and one
``register(...)`` call; tenants then name it in their ``dialect`` setting.
"""

from __future__ import annotations

from deviceflow.server.dialects._registry import (
    dialect_named,
    dialect_names,
    register,
    registered,
    unregister,
)
from deviceflow.server.dialects.base import Dialect, Discovery, Verification, Wire

__all__ = [
    "Dialect",
    "Discovery",
    "Verification",
    "Wire",
    "dialect_named",
    "dialect_names",
    "register",
    "registered",
    "unregister",
]
