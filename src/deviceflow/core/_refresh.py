"""The refresh token grant (RFC 6749 §6) and token response parsing for it.

Microsoft v2.0 takes ``scope`` and answers with ``client_info`` when asked (``client_info=1``);
v1 takes ``resource``. Every refresh response carries a new refresh token on Microsoft's
platform: persist it at once.
"""

from ._codec import (
    decode_json_object,
    error_code,
    form_post,
    is_success,
    oauth_error,
    try_decode_json_object,
)
from ._endpoints import DIALECT_V1, DIALECT_V2, Endpoints
from ._errors import RemoteProtocolError
from ._messages import HttpRequest, HttpResponse
from ._token import Token, token_from_json
from ._validate import is_text

_WHAT = "token response"


def refresh_request(
    endpoints: Endpoints,
    client_id: str,
    refresh_token: str,
    *,
    claims: "str | None" = None,
    scopes: "tuple[str, ...] | list[str]" = (),
    resource: "str | None" = None,
) -> HttpRequest:
    """Return a refresh token grant request (RFC 6749 §6).

    Args:
        endpoints: where to send it, and in which dialect.
        client_id: the client identifier.
        refresh_token: the refresh token to redeem.
        scopes: the scopes to ask for (v2.0, RFC); empty keeps the original grant's scopes.
        resource: the resource (required by Microsoft v1; RFC 8707 elsewhere).
        claims: a claims request (JSON), e.g. the one a resource's claims challenge carried
            (continuous access evaluation); sent as the ``claims`` parameter.

    Returns:
        A form ``POST`` to the token endpoint.

    Raises:
        ValueError: an argument is empty, or ``resource`` is missing for v1.
    """
    if not isinstance(endpoints, Endpoints):
        raise TypeError("endpoints must be an Endpoints")
    if not is_text(client_id):
        raise ValueError("client_id must be a non-empty str")
    if not is_text(refresh_token):
        raise ValueError("refresh_token must be a non-empty str")
    pairs = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("refresh_token", refresh_token),
    ]
    if endpoints.dialect == DIALECT_V1:
        if not resource:
            raise ValueError("the Microsoft v1 dialect needs resource=")
        pairs.append(("resource", resource))
    else:
        names = [scope for scope in scopes if scope]
        if names:
            pairs.append(("scope", " ".join(names)))
        if resource and endpoints.dialect != DIALECT_V2:
            pairs.append(("resource", resource))
        if endpoints.dialect == DIALECT_V2:
            pairs.append(("client_info", "1"))
    if claims:
        pairs.append(("claims", claims))
    return form_post(endpoints.token_url, pairs)


def parse_token_response(
    response: HttpResponse,
    now: float,
    *,
    requested_scopes: "tuple[str, ...]" = (),
    resource: "str | None" = None,
    refresh_token: "str | None" = None,
) -> Token:
    """Parse a token endpoint response (RFC 6749 §5.1, §5.2) into a :class:`Token`.

    Args:
        response: the HTTP response.
        now: the current time; becomes ``Token.issued_at``.
        requested_scopes: used as ``Token.scopes`` when the response omits ``scope``.
        resource: used as ``Token.resource`` when the response omits it.
        refresh_token: the refresh token that was redeemed, kept on the new token when the
            response carries none (RFC 6749 §6: the server MAY issue a new refresh token; if it
            does not, the old one stays valid).

    Returns:
        The token.

    Raises:
        OAuthError: the server sent an OAuth error (``InvalidGrantError`` for an expired or
            revoked refresh token, ...); ``status`` tells a 5xx apart.
        RemoteProtocolError: the body is not JSON, or has neither a token nor an error.
    """
    status = response.status
    obj = try_decode_json_object(response)
    code = error_code(obj)
    if obj is not None and code is not None and "access_token" not in obj:
        raise oauth_error(obj, code, status)
    if obj is None:
        decode_json_object(response, _WHAT)  # raises, quoting a snippet of the body
        raise AssertionError("unreachable")  # pragma: no cover
    if not is_success(status):
        raise RemoteProtocolError(_WHAT + " has no 'error' member", status=status)
    token = token_from_json(
        obj, now, status=status, requested_scopes=tuple(requested_scopes), resource=resource
    )
    if token.refresh_token is None and refresh_token:
        token = token.replace(refresh_token=refresh_token)
    return token
