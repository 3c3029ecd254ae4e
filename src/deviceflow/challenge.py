"""Bearer challenges (RFC 6750 §3) and the claims challenges of continuous access evaluation.

A resource that wants a fresher or stronger token than the one it got answers 401 with
``WWW-Authenticate: Bearer realm="", ..., error="insufficient_claims", claims="<base64>"``
(Microsoft Graph does, under continuous access evaluation). The claims are a JSON claims
request; a client asks the token endpoint again with them (``claims=``: a refresh, or a new
sign-in when the refresh is refused) and retries with the new token. :func:`claims_challenge`
reads them from the header; the Graph client, :mod:`deviceflow.auth` and
:mod:`deviceflow.azure` use it.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["bearer_parameters", "claims_challenge"]

_PARAMETER = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)')


def bearer_parameters(header: str | None) -> dict[str, str]:
    """The parameters of the ``Bearer`` challenge in a ``WWW-Authenticate`` value.

    Parameters after another scheme's name are not the Bearer challenge's; a header without a
    Bearer challenge gives ``{}``.
    """
    if not header:
        return {}
    match = re.search(r"(?:^|,)\s*Bearer(?:\s+|$)", header, re.IGNORECASE)
    if match is None:
        return {}
    found: dict[str, str] = {}
    rest = header[match.end() :]
    position = 0
    while True:
        parameter = _PARAMETER.match(rest, position)
        if parameter is None:
            break
        name, value = parameter.groups()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        found.setdefault(name.lower(), value)
        position = parameter.end()
        separator = re.compile(r"\s*,\s*").match(rest, position)
        if separator is None:
            break
        position = separator.end()
    return found


def claims_challenge(header: str | None) -> str | None:
    """The claims (JSON text) of an ``insufficient_claims`` Bearer challenge, else None.

    The claims are base64 on the wire (Microsoft pads them; unpadded and base64url are
    accepted too); a value that is JSON already is taken as it is.
    """
    parameters = bearer_parameters(header)
    encoded = parameters.get("claims")
    if parameters.get("error") != "insufficient_claims" or not encoded:
        return None
    if encoded.lstrip().startswith("{"):
        return encoded
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        return decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
