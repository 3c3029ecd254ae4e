"""The framework-free grant engine: RFC 8628 device grant, refresh tokens, signing keys.

The web layer (endpoints, pages, Graph emulation) calls :class:`GrantEngine` (and its parts:
``engine.device``, :mod:`.device`; ``engine.verification``, :mod:`.verification`;
``engine.sign_in``, :mod:`._signin`) and renders what it returns or raises; it holds no protocol
rules. See ``docs/server-seam.md`` for the seam.
"""

from __future__ import annotations

from deviceflow.server.grant._cae import ContinuousAccess, parse_claims
from deviceflow.server.grant._codes import normalise_user_code
from deviceflow.server.grant._engine import GRAPH_AUDIENCE, GrantEngine
from deviceflow.server.grant._errors import GrantError, Reason, VerificationError, VerificationKind
from deviceflow.server.grant._signin import PasswordSignIn, SignInError, SignInRefusal
from deviceflow.server.grant._types import (
    DeviceAuthorization,
    GrantType,
    IssuedTokens,
    Origin,
    PendingRequest,
)
from deviceflow.server.grant.device import (
    AUTHORIZATION_PENDING,
    MAX_POLL_INTERVAL,
    SLOW_DOWN_STEP,
    AuthorizationPending,
    DeviceCodeGrant,
    PollOutcome,
    SlowDown,
)
from deviceflow.server.grant.verification import Verification

__all__ = [
    "AUTHORIZATION_PENDING",
    "GRAPH_AUDIENCE",
    "MAX_POLL_INTERVAL",
    "SLOW_DOWN_STEP",
    "AuthorizationPending",
    "ContinuousAccess",
    "DeviceAuthorization",
    "DeviceCodeGrant",
    "GrantEngine",
    "GrantError",
    "GrantType",
    "IssuedTokens",
    "Origin",
    "PasswordSignIn",
    "PendingRequest",
    "PollOutcome",
    "Reason",
    "SignInError",
    "SignInRefusal",
    "SlowDown",
    "Verification",
    "VerificationError",
    "VerificationKind",
    "normalise_user_code",
    "parse_claims",
]
