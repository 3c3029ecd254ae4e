"""``/oidc/userinfo``: the OpenID Connect UserInfo endpoint (OIDC Core §5.3), for both dialects.

Microsoft serves it on Graph (``https://graph.microsoft.com/oidc/userinfo``) and answers with a few
standard claims, not a Graph user: ``sub``, ``name``, ``family_name``, ``given_name``, ``email``
(and ``picture``, which this emulation has no photo for). §5.3.2: "The sub (subject) Claim MUST
always be returned in the UserInfo Response"; it is the access token's ``sub``, which is the ID
token's (pairwise per client), as §5.3.4 requires. Claims without a value are left out (§5.3.2).

The access token comes in the ``Authorization`` header, or as the ``access_token`` form parameter
of a POST (RFC 6750 §2.2; OIDC Core §5.3.1 allows both methods). Answers are never cached.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from deviceflow.server.endpoints._pages import read_form
from deviceflow.server.endpoints.context import context_of
from deviceflow.server.graph._auth import GraphError, authorize, graph_error, graph_json

USERINFO_SCOPES = (
    "openid", "profile", "email", "User.Read", "User.ReadWrite", "User.ReadBasic.All",
    "User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
)  # fmt: skip
"""A token with any one of these may read its user's claims."""


async def userinfo(request: Request) -> Response:
    """``GET`` / ``POST /oidc/userinfo``: the signed-in user's standard claims."""
    ctx = context_of(request)
    token = None
    if request.method == "POST" and "authorization" not in request.headers:
        form = await read_form(request)
        token = (form or {}).get("access_token") or None
    try:
        user, claims = authorize(request, ctx, USERINFO_SCOPES, token=token)
    except GraphError as exc:
        return graph_error(request, ctx, exc)
    values = {
        "sub": claims.get("sub"),
        "name": user.display_name,
        "family_name": user.surname,
        "given_name": user.given_name,
        "email": user.mail,
    }
    return graph_json(request, ctx, {k: v for k, v in values.items() if v}, odata=False)
