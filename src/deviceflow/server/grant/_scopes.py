"""Which scopes a request gets, and the audience of its access token (checklist 13).

Graph scopes are kept in their short form (``User.Read``), as Microsoft reports them; a scope of
another API keeps its resource prefix (``api://orders/read``) and makes that API the audience.
"""

from __future__ import annotations

from collections.abc import Iterable

from deviceflow.server.grant._errors import GrantError
from deviceflow.server.settings import Client

GRAPH_AUDIENCE = "https://graph.microsoft.com"
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
_GRAPH_PREFIXES = (GRAPH_AUDIENCE + "/", _GRAPH_APP_ID + "/")


def _short(scope: str) -> str:
    for prefix in _GRAPH_PREFIXES:
        if scope.startswith(prefix):
            return scope[len(prefix) :]
    return scope


def resolve_scopes(client: Client, scope: str | None, resource: str | None) -> tuple[str, ...]:
    """The scopes granted for a device authorization request.

    ``scope`` (v2.0, RFC) wins; ``resource`` (Microsoft v1) grants every allowed scope of that
    resource plus ``openid`` and ``offline_access``; neither grants the client's whole allow-list.

    Raises:
        GrantError: ``invalid_scope`` for a scope the client may not request.
    """
    allowed = client.scopes
    if scope is None or not scope.strip():
        if resource is None:
            return allowed
        wanted = [f"{resource.rstrip('/')}/.default", "openid", "profile", "offline_access"]
    else:
        wanted = scope.split()
    granted: list[str] = []
    for item in wanted:
        short = _short(item)
        if short.endswith(".default"):
            base = short[: -len(".default")].rstrip("/")
            expanded = [s for s in allowed if s not in OIDC_SCOPES and _resource_of(s) == base]
            if not expanded:
                raise GrantError(
                    "invalid_scope",
                    f"no scope of {base or 'Graph'} is allowed",
                    reason="scope_not_allowed",
                )
            granted.extend(expanded)
        elif short in allowed:
            granted.append(short)
        elif short in OIDC_SCOPES and resource is not None:
            continue
        else:
            raise GrantError(
                "invalid_scope", f"the client may not request {item!r}", reason="scope_not_allowed"
            )
    return tuple(dict.fromkeys(granted))


def _resource_of(scope: str) -> str:
    return scope.rsplit("/", 1)[0] if "/" in scope else ""


def narrow_scopes(granted: tuple[str, ...], scope: str | None) -> tuple[str, ...]:
    """The scopes for a refresh: a subset of the original grant (RFC 6749 §6).

    Raises:
        GrantError: ``invalid_scope`` for a scope beyond the original grant.
    """
    if scope is None or not scope.strip():
        return granted
    wanted = {_short(s) for s in scope.split()}
    extra = sorted(s for s in wanted - set(granted) if not s.endswith(".default"))
    if extra:
        raise GrantError("invalid_scope", f"scope beyond the original grant: {' '.join(extra)}")
    if any(s.endswith(".default") for s in wanted):
        return granted
    return tuple(s for s in granted if s in wanted or s == "offline_access")


def known_scopes(clients: Iterable[Client]) -> frozenset[str]:
    """Every scope some client may request here: the APIs this server knows."""
    return frozenset(scope for client in clients for scope in client.scopes)


def for_resource(
    scopes: tuple[str, ...], resource: str, *, known: frozenset[str]
) -> tuple[str, ...]:
    """The part of ``scopes`` for the API ``resource`` names, with the OpenID Connect scopes:
    what a token asked for one resource carries (Microsoft's v1 ``resource``, RFC 8707 §2.2).

    ``known`` (:func:`known_scopes`) tells an API nobody here has scopes of from one this grant
    holds nothing of. Graph is known by its URL and its application id.

    Raises:
        GrantError: ``invalid_target`` (RFC 8707 §2): ``unknown_resource`` or
            ``resource_not_granted``.
    """
    base = resource.strip().rstrip("/")
    if base.lower() in (GRAPH_AUDIENCE, _GRAPH_APP_ID):
        base = ""  # Graph's scopes are kept short (``User.Read``): their resource is ""
    picked = tuple(s for s in scopes if s in OIDC_SCOPES or _resource_of(s) == base)
    if any(s not in OIDC_SCOPES for s in picked):
        return picked
    shown = resource[:256]
    if base and not any(_resource_of(s) == base for s in known):
        raise GrantError("invalid_target", f"unknown resource {shown!r}", reason="unknown_resource")
    raise GrantError(
        "invalid_target",
        f"the grant holds no scope of {shown!r}",
        reason="resource_not_granted",
    )


def audience(scopes: tuple[str, ...]) -> str:
    """The API the access token is for: the first non-Graph resource, else Graph."""
    for scope in scopes:
        if "/" in scope:
            return _resource_of(scope)
    return GRAPH_AUDIENCE


def reported_scope(scopes: tuple[str, ...]) -> str:
    """The ``scope`` of the token response (and ``scp`` claim): without ``offline_access``."""
    return " ".join(s for s in scopes if s != "offline_access")
