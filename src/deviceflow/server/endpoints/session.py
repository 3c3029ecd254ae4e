"""The verification pages' browser session: a signed cookie and the CSRF tokens derived from it.

The cookie holds no secret and no code: a random session id, the signed-in user's id (once they
have signed in), the tenant they signed in to, when the session began (for a signed-in session:
when the user signed in), and the browser's label. It is signed with HMAC-SHA256 under a key the
app gets from the engine, so a server restart (same storage) keeps sessions valid. CSRF tokens
are ``HMAC(key, "csrf" | session id)``: a form post must carry the token of the session cookie it
arrives with (the double-submit pattern, with a signed cookie).

Signing in and signing out give the browser a new session id, hence a new CSRF token: a session
id or token someone learnt before (a cookie planted in the victim's browser, a page seen over
their shoulder) carries no form of the signed-in session. The label, the browser's first session
id, stays: it names the per-session bucket of wrong user codes, which a sign-in must not reset.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, replace

COOKIE_NAME = "deviceflow_session"
SESSION_LIFETIME = 3600
"""Seconds a browser session (and a sign-in) stays valid."""


@dataclass(frozen=True)
class Session:
    """One browser session; ``user_id``/``tenant_id`` are set once the user has signed in."""

    sid: str
    issued_at: int
    """When the session began; for a signed-in session, when the user signed in."""
    user_id: str | None = None
    tenant_id: str | None = None
    label: str = ""
    """The browser's first session id, kept across rotations (rate-limit buckets); ``sid``
    when empty."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Signs and checks session cookies and CSRF tokens with one HMAC key."""

    def __init__(self, key: bytes, *, clock: Callable[[], float], rng: Callable[[int], bytes]):
        self._key = key
        self._clock = clock
        self._rng = rng

    def new(self) -> Session:
        """A fresh anonymous session."""
        return Session(sid=self._rng(16).hex(), issued_at=int(self._clock()))

    def signed_in(self, session: Session, user_id: str, tenant_id: str) -> Session:
        """``session`` after a sign-in: a new session id (so a new CSRF token), the same label."""
        return replace(self.signed_out(session), user_id=user_id, tenant_id=tenant_id)

    def signed_out(self, session: Session) -> Session:
        """``session`` after a sign-out: anonymous, a new session id, the same label."""
        return Session(
            sid=self._rng(16).hex(),
            issued_at=int(self._clock()),
            label=session.label or session.sid,
        )

    def _mac(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.new(self._key, purpose + b"|" + data, hashlib.sha256).digest()

    def dump(self, session: Session) -> str:
        """The cookie value for ``session``."""
        payload = json.dumps(
            {
                "s": session.sid,
                "t": session.issued_at,
                "u": session.user_id,
                "n": session.tenant_id,
                **({"l": session.label} if session.label else {}),
            },
            separators=(",", ":"),
        ).encode()
        return _b64(payload) + "." + _b64(self._mac(b"session", payload))

    def load(self, value: str | None) -> Session | None:
        """The session in cookie ``value``, or None if absent, forged, malformed or too old."""
        if not value or "." not in value:
            return None
        body, _, mac = value.partition(".")
        try:
            payload = _unb64(body)
            good = hmac.compare_digest(_unb64(mac), self._mac(b"session", payload))
            data = json.loads(payload) if good else None
        except (ValueError, TypeError):
            return None
        if not isinstance(data, dict):
            return None
        sid, issued_at = data.get("s"), data.get("t")
        user_id, tenant_id, label = data.get("u"), data.get("n"), data.get("l")
        if not isinstance(sid, str) or not isinstance(issued_at, int):
            return None
        if self._clock() - issued_at > SESSION_LIFETIME:
            return None
        return Session(
            sid=sid,
            issued_at=issued_at,
            user_id=user_id if isinstance(user_id, str) else None,
            tenant_id=tenant_id if isinstance(tenant_id, str) else None,
            label=label if isinstance(label, str) else "",
        )

    def csrf_token(self, session: Session) -> str:
        """The anti-CSRF token forms of ``session`` must carry."""
        return _b64(self._mac(b"csrf", session.sid.encode()))

    def check_csrf(self, session: Session, token: str | None) -> bool:
        """Whether ``token`` is this session's CSRF token (constant-time)."""
        if not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(session).encode())

    def fingerprint(self, session: Session) -> str:
        """A short, non-reversible label of the session for rate-limit buckets and logs."""
        return self._mac(b"label", (session.label or session.sid).encode()).hex()[:16]
