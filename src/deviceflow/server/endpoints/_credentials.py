"""Who a token-endpoint request says it is: HTTP Basic or the form (RFC 6749 §2.3.1, §3.2.1).

A client names itself with ``client_id`` in the body, or in an ``Authorization: Basic`` header
(``client_secret_basic``); a confidential client adds its secret there or as ``client_secret``
in the body (``client_secret_post``). An empty password is no secret: requests-oauthlib sends
``Basic base64(client_id:)`` for public clients by default. Whether the client may go on (a
public client, or a confidential one with the right secret) is the grant engine's decision;
this module only reads the request.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import unquote

from deviceflow.server.dialects.base import ParameterError
from deviceflow.server.grant import GrantError

_STANDARD = bytes.maketrans(b"-_", b"+/")


class Credentials(NamedTuple):
    """The client a request names, and the secret it presents (None: none, or empty)."""

    client_id: str | None
    secret: str | None
    basic: bool
    """Whether they came in the ``Authorization`` header: a refusal is then ``401`` (§5.2)."""


def uses_basic(authorization: str | None) -> bool:
    """Whether ``authorization`` (the request's ``Authorization`` header) is ``Basic ...``."""
    return authorization is not None and authorization[:6].lower() == "basic "


def named_client(authorization: str | None, form: Mapping[str, str]) -> str | None:
    """The client id a request names (body, else Basic), for error texts; None when unreadable.

    Raises:
        Nothing.
    """
    try:
        return client_credentials(authorization, form).client_id
    except (GrantError, ParameterError):
        return form.get("client_id") or None


def client_credentials(authorization: str | None, form: Mapping[str, str]) -> Credentials:
    """The client id and secret of a request, from HTTP Basic or else from the form.

    ``authorization``: the request's ``Authorization`` header (its first), if it has one; the
    token endpoint reads it with the other headers it needs, in one pass.

    Raises:
        GrantError: ``invalid_client`` (401): a Basic header that does not decode to
            ``id:secret``.
        ParameterError: Basic and ``client_secret`` together ("MUST NOT use more than one
            authentication method", §2.3), or a body ``client_id`` naming another client.
    """
    if authorization is None or authorization[:6].lower() != "basic ":  # uses_basic()
        # Built as ``Credentials._make`` does, without the class's Python ``__new__``: every
        # poll comes this way.
        named = (form.get("client_id") or None, form.get("client_secret") or None, False)
        return tuple.__new__(Credentials, named)
    raw = authorization[6:].strip()
    try:
        # Standard base64 as RFC 7617 says; Authlib sends the URL-safe alphabet.
        decoded = base64.b64decode(raw.encode("ascii").translate(_STANDARD), validate=True)
        user, colon, password = decoded.decode("utf-8").partition(":")
    except (UnicodeError, binascii.Error, ValueError):
        user, colon, password = "", "", ""
    if not colon or not user:
        raise GrantError("invalid_client", "malformed Basic credentials", status=401)
    # §2.3.1 form-encodes both before base64; requests does not. unquote() (not unquote_plus)
    # reads both alike for the characters ids and generated secrets contain.
    client_id, secret = unquote(user), unquote(password)
    if form.get("client_secret"):
        raise ParameterError("Use one client authentication method: Basic or client_secret.")
    if form.get("client_id") and form["client_id"] != client_id:
        raise ParameterError("client_id in the body and in the Authorization header differ.")
    return Credentials(client_id, secret or None, True)
