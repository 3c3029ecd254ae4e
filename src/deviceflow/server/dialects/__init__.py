"""Dialects: how one grant engine's results are spelled on the wire.

The ``rfc8628`` dialect speaks RFC 8628 / RFC 6749 exactly. The ``microsoft`` dialect is a thin
translation over the same bodies (parameter aliases, a ``message`` line, AADSTS numbers when the
engine knows them); its exact Entra bodies are a later issue.
"""

from __future__ import annotations

from deviceflow.server.dialects.base import Dialect
from deviceflow.server.dialects.microsoft import MicrosoftDialect
from deviceflow.server.dialects.rfc8628 import Rfc8628Dialect

__all__ = ["Dialect", "MicrosoftDialect", "Rfc8628Dialect", "dialect_for"]


def dialect_for(name: str) -> Dialect:
    """The dialect called ``name`` (``"rfc8628"`` or ``"microsoft"``).

    Raises:
        ValueError: ``name`` is not a known dialect.
    """
    if name == "rfc8628":
        return Rfc8628Dialect()
    if name == "microsoft":
        return MicrosoftDialect()
    raise ValueError(f"unknown dialect {name!r}")
