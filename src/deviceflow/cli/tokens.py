"""Silent token access for ``token``, ``me`` and ``graph``: cache first, refresh under the lock.

:meth:`TokenManager.access_token` holds the profile's cross-process lock across "load, check,
refresh, save". Ten concurrent ``deviceflow token`` processes with an expired access token
therefore send exactly one refresh request: the first refreshes and saves the rotated refresh
token before releasing the lock; the other nine find the fresh access token. A refresh token is
never used twice, so servers that revoke a grant on refresh-token reuse keep working.
"""

from __future__ import annotations

from deviceflow.cache.base import AccessToken, Account, CacheEntry
from deviceflow.cli.errors import SignInRequiredError
from deviceflow.core import REFRESH_MARGIN

# ``typing.TYPE_CHECKING`` without importing typing (``deviceflow token`` loads this module);
# type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from deviceflow.cache.base import TokenCache
    from deviceflow.cli.context import Context
    from deviceflow.cli.state import ProfileState
    from deviceflow.core import Endpoints, HttpRequest, HttpResponse, Token
    from deviceflow.transports.base import Transport

__all__ = [
    "DEFAULT_LIFETIME",
    "TokenManager",
    "access_from_token",
    "account_from_token",
    "manager_for",
    "new_entry",
    "print_token",
]

#: Lifetime assumed when a server omits ``expires_in`` (RFC 6749 §5.1 makes it optional).
DEFAULT_LIFETIME = 600.0


def account_from_token(token: Token) -> Account:
    """Who signed in, from the (unvalidated, display-only) ID token claims or ``client_info``."""
    claims = token.id_token_claims or {}

    def claim(*names: str) -> str | None:
        for name in names:
            value = claims.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    subject = claim("oid", "sub")
    if subject is None and token.client_info:
        uid = token.client_info.get("uid")
        subject = uid if isinstance(uid, str) else None
    return Account(
        username=claim("preferred_username", "upn", "email", "unique_name"),
        name=claim("name"),
        subject=subject,
    )


def access_from_token(token: Token, requested: Sequence[str]) -> AccessToken:
    """The cacheable part of ``token`` (its scopes, or the requested ones if it has none)."""
    expires_at = token.expires_at
    if expires_at is None:
        expires_at = token.issued_at + DEFAULT_LIFETIME
    return AccessToken(
        token=token.access_token,
        expires_at=float(expires_at),
        scopes=tuple(token.scopes) or tuple(requested),
        token_type=token.token_type,
    )


def new_entry(
    token: Token,
    *,
    client_id: str,
    endpoints: Endpoints,
    scopes: Sequence[str],
    resource: str | None,
    now: float,
) -> CacheEntry:
    """The cache entry right after a sign-in."""
    entry = CacheEntry(
        client_id=client_id,
        token_url=endpoints.token_url,
        device_authorization_url=endpoints.device_authorization_url,
        revocation_url=endpoints.revocation_url,
        issuer=endpoints.issuer,
        dialect=endpoints.dialect,
        resource=resource,
        scopes=tuple(scopes),
        account=account_from_token(token),
    )
    return entry.with_tokens(
        access_from_token(token, scopes), refresh_token=token.refresh_token, now=now
    )


def endpoints_of(entry: CacheEntry) -> Endpoints:
    """The :class:`~deviceflow.core.Endpoints` a cache entry was signed in with."""
    from deviceflow.core import Endpoints

    return Endpoints(
        device_authorization_url=entry.device_authorization_url,
        token_url=entry.token_url,
        revocation_url=entry.revocation_url,
        issuer=entry.issuer,
        dialect=entry.dialect,
    )


class TokenManager:
    """Hands out valid access tokens for one profile, refreshing silently when needed.

    Args:
        cache: where the profile lives.
        profile: which profile.
        transport: sends refresh requests.
        clock: wall clock (token expiry is stored as epoch seconds).
        state: where each refresh and refusal is recorded (for ``status`` and ``doctor``).
        login_hint: the command that signs the profile in again, for messages (made on demand;
            default ``deviceflow login [--profile P]``).
    """

    def __init__(
        self,
        cache: TokenCache,
        profile: str,
        *,
        transport: Transport,
        clock: Callable[[], float],
        state: ProfileState | None = None,
        login_hint: Callable[[], str] | None = None,
    ) -> None:
        self.cache = cache
        self._login_hint = login_hint or (lambda: f"deviceflow login{_flag(profile)}")
        self.profile = profile
        self._transport = transport
        self._clock = clock
        #: How many refresh requests this manager sent (for messages and tests).
        self.refreshes = 0
        self.state = state

    def entry(self) -> CacheEntry:
        """The profile's cache entry.

        Raises:
            SignInRequiredError: nobody is signed in on this profile.
            CacheError: the cache is unsafe or corrupt.
        """
        entry = self.cache.load(self.profile)
        if entry is None:
            raise SignInRequiredError(
                f"not signed in (profile {self.profile!r}); sign in with: {self._login_hint()}"
            )
        return entry

    def access_token(self, scopes: Sequence[str] = (), **options: Any) -> str:
        """The access token of :meth:`token` (same arguments, same errors).

        Raises:
            SignInRequiredError, TransportError, OAuthError, RemoteProtocolError, CacheError:
                as :meth:`token`.
        """
        return self.token(scopes, **options).token

    def token(
        self,
        scopes: Sequence[str] = (),
        *,
        min_validity: float = REFRESH_MARGIN,
        force_refresh: bool = False,
        claims: str | None = None,
    ) -> AccessToken:
        """A token valid for at least ``min_validity`` seconds, covering ``scopes``.

        Args:
            scopes: scopes the token must carry (default: whatever the sign-in asked for).
            min_validity: seconds the token must stay valid.
            force_refresh: refresh even if the cached token looks valid (after a Graph 401).
            claims: a claims challenge's claims (JSON): refresh with them (implies
                ``force_refresh``).

        Returns:
            The access token, its expiry and scopes.

        Raises:
            SignInRequiredError: nobody signed in, no refresh token, or the server rejected it.
            TransportError, OAuthError, RemoteProtocolError: the refresh failed otherwise.
            CacheError: the cache is unsafe, corrupt or locked for too long.
        """
        with self.cache.lock(self.profile):
            entry = self.entry()
            now = self._clock()
            if not (force_refresh or claims):
                cached = entry.find(scopes, now, min_validity=min_validity)
                if cached is not None:
                    return cached
            if not entry.refresh_token:
                raise SignInRequiredError(
                    f"the access token of profile {self.profile!r} expired and there is no "
                    f"refresh token; sign in again with: {self._login_hint()}"
                )
            wanted = tuple(scopes) or entry.scopes
            from deviceflow.errors import InvalidGrantError

            try:
                token = self._refresh(entry, wanted, claims)
            except BaseException as exc:
                self._record_failure(exc)
                if not isinstance(exc, InvalidGrantError):
                    raise
                from deviceflow.cli.hints import server_details

                raise SignInRequiredError(
                    "the server no longer accepts the saved sign-in (expired, revoked or ended)."
                    f" Sign in again with: {self._login_hint()}\n  ({server_details(exc)})"
                ) from exc
            access = access_from_token(token, wanted)
            updated = entry.with_tokens(
                access, refresh_token=token.refresh_token, now=self._clock()
            )
            self.cache.save(self.profile, updated)
            if self.state is not None:
                now = self._clock()
                rotated = bool(token.refresh_token) and token.refresh_token != entry.refresh_token
                changes: dict[str, Any] = {"last_refresh_at": now, "last_error": None}
                if rotated:
                    changes["refresh_token_at"] = now
                self.state.update(**changes)
            return access

    def _record_failure(self, exc: BaseException) -> None:
        if self.state is not None and isinstance(exc, Exception):
            from deviceflow.cli.state import error_record

            self.state.update(
                last_error=error_record(exc, at=self._clock(), source=self.state.writer)
            )

    def _refresh(self, entry: CacheEntry, scopes: Sequence[str], claims: str | None) -> Token:
        from deviceflow.client import DeviceFlowClient

        assert entry.refresh_token is not None
        client = DeviceFlowClient(
            entry.client_id,
            endpoints=endpoints_of(entry),
            transport=self._transport,
            wall_clock=self._clock,
        )
        self.refreshes += 1
        if entry.resource:
            from deviceflow.core import Token as CoreToken

            seed = CoreToken(
                access_token="-",
                issued_at=0.0,
                refresh_token=entry.refresh_token,
                resource=entry.resource,
                scopes=(),
            )
            return client.refresh(seed, scopes=(), claims=claims)
        return client.refresh(entry.refresh_token, scopes=list(scopes), claims=claims)


class _TransportOnDemand:
    """The context's transport, made on the first request: a cached token needs none (and the
    default transport's TLS setup costs more than the rest of ``deviceflow token``)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def handle_request(self, request: HttpRequest, **options: Any) -> HttpResponse:
        return self._ctx.transport.handle_request(request, **options)


def manager_for(ctx: Context) -> TokenManager:
    """The :class:`TokenManager` of the context's profile; its transport is made on demand."""
    from deviceflow.cli.state import ProfileState

    profile = ctx.settings.profile
    return TokenManager(
        ctx.cache(),
        profile,
        transport=_TransportOnDemand(ctx),
        clock=ctx.world.clock,
        state=ProfileState(ctx.settings.cache_dir, profile),
        login_hint=lambda: _login_hint(ctx),
    )


def _login_hint(ctx: Context) -> str:
    from deviceflow.cli.hints import login_command

    return login_command(ctx)


def print_token(ctx: Context, flags: Mapping[str, object]) -> int:
    """``deviceflow token``: print a valid access token (and nothing else) on stdout.

    Args:
        ctx: the run's context.
        flags: the parsed flags by argparse destination (``scope``, ``min_validity``).

    Returns:
        The exit code, 0.

    Raises:
        SignInRequiredError: nobody signed in, or the refresh token was rejected.
    """
    scopes = tuple(ctx.settings.scopes) if flags["scope"] else ()
    min_validity = flags["min_validity"]
    assert isinstance(min_validity, int | float)
    ctx.out(manager_for(ctx).access_token(scopes, min_validity=float(min_validity)))
    return 0


def _flag(profile: str) -> str:
    return "" if profile == "default" else f" --profile {profile}"
