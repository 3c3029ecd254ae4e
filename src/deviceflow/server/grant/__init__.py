"""The framework-free grant engine: RFC 8628 device grant, refresh tokens, signing keys.

The web layer (endpoints, pages, Graph emulation) calls :class:`GrantEngine` and renders what it
returns or raises; it holds no protocol rules. See ``docs/server-seam.md`` for the seam.
"""

from __future__ import annotations

from deviceflow.server.grant._engine import GRAPH_AUDIENCE, GrantEngine
from deviceflow.server.grant._errors import GrantError, Reason, VerificationError, VerificationKind
from deviceflow.server.grant._types import (
    DeviceAuthorization,
    GrantType,
    IssuedTokens,
    Origin,
    PendingRequest,
)

__all__ = [
    "GRAPH_AUDIENCE",
    "DeviceAuthorization",
    "GrantEngine",
    "GrantError",
    "GrantType",
    "IssuedTokens",
    "Origin",
    "PendingRequest",
    "Reason",
    "VerificationError",
    "VerificationKind",
]
