"""Test control: a token-guarded API that steers the server from a test (docs/testing.md).

Off unless ``settings.test_control`` is on (``deviceflow serve --test-control``, and the
development setup). ``create_app`` then adds the ``/test-control/...`` routes (:mod:`.api`),
wraps the token endpoints so they can answer queued failures (:mod:`._faults`), and keeps the
queue on ``app.state.test_control``; Graph reads its throttling from there.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from deviceflow.server.testcontrol._faults import Faults, TokenFault, wrap_token_routes
from deviceflow.server.testcontrol.api import PREFIX, routes

__all__ = ["PREFIX", "Faults", "TokenFault", "new_token", "routes", "wrap_token_routes"]


def new_token(rng: Callable[[int], bytes]) -> str:
    """A fresh test-control token (32 random bytes, base64url)."""
    return base64.urlsafe_b64encode(rng(32)).rstrip(b"=").decode()
