"""``token``, ``me``, ``graph``, ``accounts`` and ``logout``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from deviceflow.cache.base import CacheCorruptError
from deviceflow.cli.context import Context
from deviceflow.cli.errors import UsageError
from deviceflow.cli.panel import format_remaining
from deviceflow.cli.parser import GRAPH_METHODS, GRAPH_USAGE
from deviceflow.cli.state import ProfileState
from deviceflow.cli.tokens import TokenManager, manager_for, print_token

if TYPE_CHECKING:
    from deviceflow.cache.base import CacheEntry
    from deviceflow.graph import GraphClient

__all__ = ["accounts", "graph", "logout", "me", "token"]


def token(ctx: Context, args: argparse.Namespace) -> int:
    """Print a valid access token (and nothing else) on stdout (see :func:`print_token`).

    Raises:
        SignInRequiredError: nobody signed in, or the refresh token was rejected.
    """
    return print_token(ctx, vars(args))


def graph_client(ctx: Context, manager: TokenManager, scopes: tuple[str, ...] = ()) -> GraphClient:
    """A Graph client that takes its tokens from ``manager``."""
    from deviceflow.graph import GraphClient

    def source(*, force_refresh: bool = False, claims: str | None = None) -> str:
        return manager.access_token(scopes, force_refresh=force_refresh, claims=claims)

    return GraphClient(
        ctx.transport, source, base_url=ctx.settings.graph_url, sleep=ctx.world.sleep
    )


def _print_json(ctx: Context, value: Any) -> None:
    ctx.out(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False))


def me(ctx: Context, args: argparse.Namespace) -> int:
    """Print the signed-in user from ``GET /v1.0/me``.

    Raises:
        GraphError: Graph refused.
        SignInRequiredError: nobody signed in.
    """
    user = graph_client(ctx, manager_for(ctx)).get("/v1.0/me")
    if args.json:
        _print_json(ctx, user)
        return 0
    if not isinstance(user, dict):
        raise UsageError("Graph returned something other than a user object")
    for label, key in (
        ("Name", "displayName"),
        ("User", "userPrincipalName"),
        ("Mail", "mail"),
        ("Job title", "jobTitle"),
        ("Id", "id"),
    ):
        if user.get(key):
            ctx.out(f"{label + ':':<11}{user[key]}")
    return 0


def graph(ctx: Context, args: argparse.Namespace) -> int:
    """``graph [METHOD] PATH [--data JSON] [--all]``: call Graph, print the JSON answer.

    Raises:
        UsageError: bad method, path or ``--data``.
        GraphError: Graph refused.
    """
    method, path = args.method, args.path
    if path.upper() in GRAPH_METHODS:
        raise UsageError(f"graph {path}: PATH is missing (e.g. /v1.0/me)\nusage: {GRAPH_USAGE}")
    body = None
    if args.data is not None:
        try:
            body = json.loads(args.data)
        except ValueError as exc:
            raise UsageError(f"--data is not valid JSON: {exc}") from exc
    if args.all and method != "GET":
        raise UsageError("--all only works with GET")
    scopes = tuple(ctx.settings.scopes) if args.scope else ()
    client = graph_client(ctx, manager_for(ctx), scopes)
    if args.all:
        _print_json(ctx, client.get_all(path))
    else:
        response = client.request(method, path, body=body)
        if response.body is not None:
            _print_json(ctx, response.body)
    return 0


def _describe(entry: CacheEntry, now: float) -> dict[str, Any]:
    first = entry.access_tokens[0] if entry.access_tokens else None
    return {
        "name": entry.account.name,
        "username": entry.account.username,
        "issuer": entry.issuer or entry.token_url,
        "client_id": entry.client_id,
        "scopes": list(entry.scopes),
        "access_token_expires_on": int(first.expires_at) if first else None,
        "access_token_valid": bool(first and first.is_valid(now)),
        "can_refresh": bool(entry.refresh_token),
    }


def _chosen_profile(ctx: Context, args: argparse.Namespace) -> str | None:
    """The profile named by ``--profile`` or ``DEVICEFLOW_PROFILE``, else ``None`` (all)."""
    if args.profile or ctx.world.environ.get("DEVICEFLOW_PROFILE"):
        return ctx.settings.profile
    return None


def accounts(ctx: Context, args: argparse.Namespace) -> int:
    """List the cached accounts, one profile per line (``--json`` for objects); with
    ``--profile`` (or ``DEVICEFLOW_PROFILE``) only that profile.

    Raises:
        CacheError: the cache is unsafe or corrupt.
    """
    from deviceflow.cli.hints import login_command

    cache = ctx.cache()
    now = ctx.world.clock()
    rows = []
    chosen = _chosen_profile(ctx, args)
    for profile in cache.profiles() if chosen is None else [chosen]:
        entry = cache.load(profile)
        if entry is not None:
            rows.append({"profile": profile, **_describe(entry, now)})
    if args.json:
        _print_json(ctx, rows)
        return 0
    if not rows:
        where = "" if chosen is None else f" in profile {chosen!r}"
        ctx.say(f"No cached accounts{where}. Sign in with: {login_command(ctx)}")
        return 0
    for row in rows:
        label = row["name"] or row["username"] or "unknown account"
        if row["name"] and row["username"]:
            label = f"{row['name']} <{row['username']}>"
        if row["access_token_valid"]:
            state = f"token valid {format_remaining(row['access_token_expires_on'] - now)}"
        else:
            state = "token expired" + (", can refresh" if row["can_refresh"] else "")
        ctx.out(f"{row['profile']}\t{label}\t{row['issuer']}\t{state}")
    return 0


def logout(ctx: Context, args: argparse.Namespace) -> int:
    """Revoke the sign-in at the server (RFC 7009), then delete the local tokens.

    The tokens are deleted whatever the server says; the profile keeps its remembered settings
    (so ``deviceflow login`` signs in again without flags). The exit code is 0 when every
    sign-in was revoked (or the server offers no revocation, which is said) or nobody was signed
    in (said too: ``logout`` and ``logout --all`` alike), 6 when a server could not be reached
    and 7 when one refused: the local logout happened, the server-side one did not.

    Raises:
        CacheError: the cache cannot be changed.
    """
    from deviceflow.cli.errors import EXIT_NETWORK, EXIT_SERVER
    from deviceflow.cli.revoke import REFUSED, REVOKED, UNREACHABLE, revoke

    cache = ctx.cache()
    profiles = cache.profiles() if args.all else [ctx.settings.profile]
    removed = 0
    outcomes: set[str] = set()
    for profile in profiles:
        with cache.lock(profile):
            try:
                entry = cache.load(profile)
            except CacheCorruptError as exc:
                ctx.say(str(exc))
                entry = None  # already set aside by the cache
            if entry is None and not args.all:
                ctx.say(f"Not signed in (profile {profile}): nothing to sign out of.")
                return 0
            outcome, detail = revoke(ctx, entry) if entry is not None else ("", "")
            outcomes.add(outcome)
            cache.remove(profile)
            ProfileState(ctx.settings.cache_dir, profile).forget_sign_in()
            removed += 1
            who = entry.account.label() if entry is not None else "unknown account"
            suffix = " and revoked the sign-in at the server" if outcome == REVOKED else ""
            ctx.say(f"Signed out of {who} (profile {profile}){suffix}.")
            if detail:
                ctx.say(f"{detail} The local tokens were removed.")
    if args.all and not removed:
        ctx.say("Not signed in (no profile): nothing to sign out of.")
    if UNREACHABLE in outcomes:
        return EXIT_NETWORK
    return EXIT_SERVER if REFUSED in outcomes else 0
