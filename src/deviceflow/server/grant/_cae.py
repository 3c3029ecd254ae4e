"""Continuous access evaluation: claims challenges, and the tokens that answer them.

Theory of operation. A resource (the emulated Graph) that learns of a critical event for a user
(their sign-in sessions were revoked, or a test asked for a challenge) answers that user's older
access tokens with HTTP 401 and a *claims challenge*: ``WWW-Authenticate: Bearer ...,
error="insufficient_claims", claims="<base64 of JSON>"``. The JSON says what a new token must
carry, in the shape of an OpenID Connect claims request (OpenID Connect Core §5.5):
``{"access_token": {"nbf": {"essential": true, "value": "1700000001"}}}`` asks for a token that
is not valid before that second, that is, one issued after the event. The client asks the token
endpoint again with ``claims=<that JSON>`` (a refresh, or a new device flow), and the endpoint
issues a token that satisfies it (:meth:`ContinuousAccess.satisfy`): ``nbf`` raised to the value
asked for (at most a minute ahead), ``acrs`` carrying the authentication contexts asked for,
``xms_cc`` the client capabilities declared.

The ``nbf`` asked for is the second *after* the event (and after an earlier demand's): a token
stamped with the event's own second could have been issued just before it. Demands live in
storage, one per user, so every instance of a deployment agrees. A session revocation also
records its time, before which no refresh token of the user is accepted
(:func:`sessions_revoked`): the challenge then needs a new sign-in, not a refresh.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TYPE_CHECKING, Any

from deviceflow.server.grant._errors import GrantError
from deviceflow.server.grant._signer import Signer
from deviceflow.server.grant._types import IssuedTokens
from deviceflow.server.storage.base import RefreshRecord, Storage

if TYPE_CHECKING:
    from deviceflow.server.grant._services import Services

__all__ = [
    "ContinuousAccess",
    "access_revoked",
    "parse_claims",
    "satisfies",
    "sessions_revoked",
]

_DEMANDS = "claims_demands"
_REVOKED = "revoked_sessions"
_NBF_AHEAD = 60
"""The furthest ahead an ``nbf`` asked for is honoured (the signer's clock skew)."""
_SET_BY_REQUEST = ("acrs", "xms_cc")
"""Claims a request may ask to have set (besides ``nbf``); nothing else of a token changes."""


def parse_claims(raw: str) -> dict[str, Any]:
    """The ``claims`` request parameter as a JSON object.

    Raises:
        GrantError: ``invalid_request`` when it is not a JSON object.
    """
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise GrantError("invalid_request", "the claims parameter must be a JSON object")
    return value


def _wanted(rule: Any) -> list[str]:
    """The values one claim request names (``value``, or any of ``values``), as text."""
    if not isinstance(rule, dict):
        return []  # null: "please include", which asks for no particular value
    values = rule.get("values")
    if not isinstance(values, list):
        values = [rule["value"]] if "value" in rule else []
    return [str(v) for v in values if isinstance(v, str | int | float)]


def _seconds(values: list[str]) -> int | None:
    found = []
    for value in values:
        try:
            found.append(math.ceil(float(value)))
        except ValueError:
            continue
    return max(found) if found else None


def _access_rules(claims: dict[str, Any]) -> dict[str, Any]:
    rules = claims.get("access_token")
    return rules if isinstance(rules, dict) else {}


def satisfies(token: dict[str, Any], demanded: dict[str, Any]) -> bool:
    """Whether the access token claims ``token`` meet the claims request ``demanded``.

    ``nbf``: the token's is at least the value asked for; any other claim: it holds one of the
    values asked for (a list claim, such as ``acrs``, holds one of them among its items).
    """
    for name, rule in _access_rules(demanded).items():
        wanted = _wanted(rule)
        if not wanted:
            continue
        have = token.get(name)
        if name == "nbf":
            least = _seconds(wanted)
            if least is not None and not (isinstance(have, int | float) and have >= least):
                return False
            continue
        held = {str(v) for v in have} if isinstance(have, list) else {str(have)}
        if have is None or not held & set(wanted):
            return False
    return True


def sessions_revoked(storage: Storage, record: RefreshRecord) -> bool:
    """Whether ``record`` was issued before (or as) its user's sign-in sessions were revoked."""
    stamp = storage.get_value(_REVOKED, record.user_id)
    return stamp is not None and record.issued_at <= float(stamp)


def access_revoked(storage: Storage, claims: dict[str, Any]) -> bool:
    """Whether the access token ``claims`` date from (or before) the second its user's sign-in
    sessions were revoked: the tokens the resource answers with a claims challenge for the
    revocation (a token valid from the next second on meets it; see the module docstring)."""
    stamp = storage.get_value(_REVOKED, str(claims.get("oid", "")))
    nbf = claims.get("nbf", claims.get("iat"))
    if stamp is None:
        return False
    return not isinstance(nbf, int | float) or nbf <= math.floor(float(stamp))


class ContinuousAccess:
    """Claims demands per user, and tokens re-issued to satisfy them (``GrantEngine.cae``)."""

    def __init__(self, services: Services, signer: Signer) -> None:
        self._s = services
        self._signer = signer

    def revoke_sessions(self, user_id: str) -> str:
        """Revoke every sign-in of a user (Graph's ``revokeSignInSessions``).

        Refresh tokens issued until now stop working (``invalid_grant``), and older access
        tokens get a claims challenge at Graph. Returns the challenge's claims (JSON).
        """
        now = self._s.clock()
        self._s.storage.put_value(_REVOKED, user_id, repr(now))
        self._s.audit.event("sessions_revoked", user_id=user_id)
        return self.demand(user_id, reason="revoked")

    def demand(
        self, user_id: str, claims: dict[str, Any] | None = None, *, reason: str = ""
    ) -> str:
        """From now on, challenge a user's access tokens that do not satisfy ``claims``.

        ``claims`` defaults to a token issued after now (``nbf``: the next second). ``reason``
        is remembered for the resource's error message (``revoked`` or a policy change).
        Returns the claims (JSON), as challenges carry them.
        """
        storage = self._s.storage
        if claims is None:
            # The next second; past an earlier demand's, so that tokens which answered that one
            # (in this same second) do not answer this one.
            after = math.floor(self._s.clock()) + 1
            earlier = storage.get_value(_DEMANDS, user_id)
            if earlier is not None:
                nbf = _access_rules(json.loads(earlier)["claims"]).get("nbf")
                after = max(after, (_seconds(_wanted(nbf)) or 0) + 1)
            claims = {"access_token": {"nbf": {"essential": True, "value": str(after)}}}
        text = json.dumps(claims, separators=(",", ":"))
        storage.put_value(
            _DEMANDS, user_id, json.dumps({"claims": claims, "reason": reason or "policy"})
        )
        return text

    def challenge(self, token: dict[str, Any]) -> tuple[str, str] | None:
        """``(claims JSON, reason)`` when the access token claims ``token`` fall short of a
        demand for their user, else None."""
        stored = self._s.storage.get_value(_DEMANDS, str(token.get("oid", "")))
        if stored is None:
            return None
        demand = json.loads(stored)
        if satisfies(token, demand["claims"]):
            return None
        return json.dumps(demand["claims"], separators=(",", ":")), str(demand["reason"])

    def satisfy(self, tokens: IssuedTokens, claims: dict[str, Any]) -> IssuedTokens:
        """``tokens`` with the access token re-signed to meet the claims request ``claims``.

        Raises:
            GrantError: ``invalid_token`` if the access token is not this server's (never, for
                tokens the engine just issued).
        """
        rules = _access_rules(claims)
        if not rules:
            return tokens
        access = self._signer.verify(tokens.access_token)
        least = _seconds(_wanted(rules.get("nbf")))
        if least is not None and least <= self._s.clock() + _NBF_AHEAD:
            access["nbf"] = max(int(access.get("nbf", 0)), least)
        for name in _SET_BY_REQUEST:
            wanted = _wanted(rules.get(name))
            if wanted:
                access[name] = wanted
        return dataclasses.replace(tokens, access_token=self._signer.sign(access))
