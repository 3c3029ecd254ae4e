"""``logout``'s revocation (RFC 7009): end the sign-in at the server, not only on this disk.

Deleting the cache alone leaves the refresh token valid at the server: a copy of the cache (a
backup, a synced folder, a stolen laptop image) keeps refreshing. So ``logout`` first revokes the
refresh token (RFC 7009 §2.1: revoking a refresh token also ends the grant behind it), at the
revocation endpoint recorded at sign-in, else the one the issuer's discovery document names
(sign-ins by ``--authority`` or ``--tenant`` record none). The token is only ever sent to the
origin of the cache's own token endpoint, which already receives it on every refresh.

Every outcome is said in plain words; the local tokens are removed in every case.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    from deviceflow.cache.base import CacheEntry
    from deviceflow.cli.context import Context

REVOKED = "revoked"
NOTHING = "nothing"  # no refresh token in the cache: nothing the server could still honour
UNSUPPORTED = "unsupported"  # the server offers no revocation endpoint
UNREACHABLE = "unreachable"
REFUSED = "refused"

_TIMEOUT = 15.0


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _discovered(ctx: Context, entry: CacheEntry) -> str | None:
    """The revocation endpoint the issuer's metadata names, if any.

    Raises:
        TransportError: the server cannot be reached.
    """
    from deviceflow.core import discovery_requests

    if not entry.issuer:
        return None
    try:
        requests = discovery_requests(entry.issuer)
    except ValueError:
        return None
    for request in requests:
        response = ctx.transport.handle_request(request, timeout=_TIMEOUT)
        if response.status != 200:
            continue
        try:
            document = json.loads(response.body)
        except ValueError:
            return None
        url = document.get("revocation_endpoint") if isinstance(document, dict) else None
        if isinstance(url, str) and _origin(url) == _origin(entry.token_url):
            return url
        return None
    return None


def revoke(ctx: Context, entry: CacheEntry) -> tuple[str, str]:
    """Revoke ``entry``'s refresh token; the outcome and a sentence saying it.

    Raises:
        Nothing: every failure is an outcome.
    """
    from deviceflow.core import HttpRequest
    from deviceflow.errors import TransportError

    if not entry.refresh_token:
        return NOTHING, ""
    stays = "a copy of its refresh token stays valid at the server until it expires."
    try:
        url = entry.revocation_url or _discovered(ctx, entry)
        if url is None:
            return UNSUPPORTED, f"The server offers no token revocation: {stays}"
        form = {
            "token": entry.refresh_token,
            "token_type_hint": "refresh_token",
            "client_id": entry.client_id,
        }
        response = ctx.transport.handle_request(
            HttpRequest(
                method="POST",
                url=url,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                body=urlencode(form).encode(),
            ),
            timeout=_TIMEOUT,
        )
    except TransportError as exc:
        return UNREACHABLE, f"Could not reach the server to revoke the sign-in ({exc}): {stays}"
    if response.status != 200:
        return REFUSED, (
            f"The server refused to revoke the sign-in (HTTP {response.status}): {stays}"
        )
    return REVOKED, ""
