"""Bearer tokens for HTTP clients, from a deviceflow sign-in.

Token sources (any ``source(*, force_refresh=False, claims=None) -> str`` will do; see
:class:`deviceflow.graph.TokenSource`):

- :class:`TokenHolder`: the token a :class:`~deviceflow.client.DeviceFlowClient` signed in
  with, refreshed when it nears expiry, when asked to, and with a claims challenge's claims;
- :class:`ProfileTokens`: the tokens of a CLI profile (``deviceflow login``), refreshed under
  the profile's lock exactly as ``deviceflow token`` does.

Auth classes: ``HttpxAuth(source)`` (an ``httpx.Auth``, for sync and async clients; needs the
``httpx`` extra) and :class:`RequestsAuth` (for ``requests``). Both send ``Authorization: Bearer
...`` and retry a 401 once with a refreshed token; when the 401 carries a claims challenge
(continuous access evaluation) the refresh carries its claims. A refresh the server refuses
propagates (``InvalidGrantError``, or the profile's ``SignInRequiredError``): sign in again,
passing the claims (:func:`deviceflow.challenge.claims_challenge` of the response) to
``client.start(scopes, claims=...)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from deviceflow.challenge import claims_challenge
from deviceflow.core import REFRESH_MARGIN, Token

if TYPE_CHECKING:
    from deviceflow._auth_httpx import HttpxAuth
    from deviceflow.cache.base import AccessToken
    from deviceflow.cli.tokens import TokenManager
    from deviceflow.client import DeviceFlowClient

__all__ = ["HttpxAuth", "ProfileTokens", "RequestsAuth", "TokenHolder", "fresh_token"]

Source = Callable[..., str]


def fresh_token(source: Source, www_authenticate: str | None) -> str:
    """A new token from ``source`` after a 401 whose challenge was ``www_authenticate``: with
    the challenge's claims when it carries some (sources without ``claims`` still work then)."""
    claims = claims_challenge(www_authenticate)
    if claims:
        return source(force_refresh=True, claims=claims)
    return source(force_refresh=True)


class TokenHolder:
    """The token of a signed-in :class:`~deviceflow.client.DeviceFlowClient`, kept fresh.

    Args:
        client: the client that signed in (it refreshes).
        token: the token it returned (with a refresh token).
        margin: refresh when fewer seconds than this remain.
        clock: wall clock (tokens carry wall-clock expiry).

    Raises:
        (when called) InvalidGrantError: the refresh was refused: sign in again.
    """

    def __init__(
        self,
        client: DeviceFlowClient,
        token: Token,
        *,
        margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.token = token
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()

    def __call__(self, *, force_refresh: bool = False, claims: str | None = None) -> str:
        """A valid access token, refreshed first when asked, needed or challenged."""
        with self._lock:
            expiring = self.token.is_expired(self._clock(), leeway=self._margin)
            if force_refresh or claims or expiring:
                self.token = self.client.refresh(self.token, claims=claims)
            return self.token.access_token


class ProfileTokens:
    """The access tokens of a deviceflow CLI profile (what ``deviceflow token`` prints).

    Args:
        profile: the profile (default: ``DEVICEFLOW_PROFILE``, else ``default``).
        scopes: the scopes tokens must cover (default: those of the sign-in).
        environ: the environment the CLI settings are read from (default: ``os.environ``).
        manager: a ready :class:`~deviceflow.cli.tokens.TokenManager` instead (tests).

    Raises:
        UsageError: the CLI settings are invalid.
    """

    def __init__(
        self,
        profile: str | None = None,
        *,
        scopes: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        manager: TokenManager | None = None,
    ) -> None:
        if manager is None:
            from deviceflow.cli.context import World, context_from_flags
            from deviceflow.cli.tokens import manager_for

            ctx = context_from_flags({"profile": profile}, World(environ=environ))
            manager = manager_for(ctx)
        self.manager = manager
        self.scopes = tuple(scopes)

    def __call__(self, *, force_refresh: bool = False, claims: str | None = None) -> str:
        """A valid access token for :attr:`scopes`.

        Raises:
            SignInRequiredError: nobody signed in on the profile, or the refresh was refused.
            TransportError, OAuthError, RemoteProtocolError, CacheError: as the CLI.
        """
        return self.access(force_refresh=force_refresh, claims=claims).token

    def access(
        self,
        scopes: Sequence[str] | None = None,
        *,
        force_refresh: bool = False,
        claims: str | None = None,
        min_validity: float = REFRESH_MARGIN,
    ) -> AccessToken:
        """The access token with its expiry (``expires_at``) and scopes.

        Raises:
            SignInRequiredError, TransportError, OAuthError, RemoteProtocolError, CacheError:
                as :meth:`__call__`.
        """
        return self.manager.token(
            self.scopes if scopes is None else tuple(scopes),
            min_validity=min_validity,
            force_refresh=force_refresh,
            claims=claims,
        )


class RequestsAuth:
    """``requests`` authentication from a token source (``session.auth = RequestsAuth(src)``).

    A 401 answer is retried once with a fresh token (for a claims challenge, one that carries
    its claims); the first answer is kept in the retry's ``history``.
    """

    def __init__(self, source: Source) -> None:
        self.source = source

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = "Bearer " + self.source()
        request.register_hook("response", self._after)
        return request

    def _after(self, response: Any, **kwargs: Any) -> Any:
        request = response.request
        if response.status_code != 401 or getattr(request, "deviceflow_retry", False):
            return response
        _ = response.content  # read it all, so the connection goes back to the pool
        response.close()
        token = fresh_token(self.source, response.headers.get("WWW-Authenticate"))
        retry = request.copy()
        retry.headers["Authorization"] = "Bearer " + token
        retry.deviceflow_retry = True
        answer = response.connection.send(retry, **kwargs)
        answer.history.append(response)
        answer.request = retry
        return answer


def __getattr__(name: str) -> Any:
    if name == "HttpxAuth":  # only now: it subclasses httpx.Auth
        from deviceflow._auth_httpx import HttpxAuth

        return HttpxAuth
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
