"""Where the device flow sends its requests: :class:`Endpoints` and the URL checks behind it.

Three ways to get :class:`Endpoints`:

- explicit URLs: ``Endpoints(device_authorization_url=..., token_url=..., dialect="rfc8628")``;
- a Microsoft authority (any host: public, sovereign clouds, our own server) and tenant
  (``common``, ``organizations``, ``consumers``, a GUID or a domain): ``microsoft_endpoints``;
- an issuer's metadata (OpenID Connect Discovery, or RFC 8414 §3): send the requests from
  ``discovery_requests`` in order and pass the first useful answer to
  ``endpoints_from_metadata``.

The last two (and :class:`Discovery`) live in ``_authority``: a board resolves its
endpoints once and keeps the URLs (see ``deviceflow.micro``). :func:`split_url` lives in
``_url`` (re-exported here), so that a board can check a URL without loading this module.

The dialect decides the request shapes: ``"v2"`` (Microsoft v2.0: ``scope``, ``device_code``,
``client_info=1``), ``"v1"`` (Microsoft v1: ``resource``, device code sent as ``code``) or
``"rfc8628"`` (the standard).
"""

from ._messages import _Frozen
from ._url import split_url as split_url

# typing.TYPE_CHECKING without importing typing (MicroPython has none; CPython skips ~2 ms of
# start-up): type checkers treat the name as true.
TYPE_CHECKING = False

DIALECT_V2 = "v2"
DIALECT_V1 = "v1"
DIALECT_RFC8628 = "rfc8628"
DIALECTS = (DIALECT_V2, DIALECT_V1, DIALECT_RFC8628)


def _check_url(name: str, url: object, *, optional: bool = False) -> "str | None":
    if url is None and optional:
        return None
    if not isinstance(url, str):
        raise TypeError(name + " must be a str")
    split_url(url)
    return url


class Endpoints(_Frozen):
    """The URLs of one authorization server and the dialect it speaks.

    Attributes:
        device_authorization_url: the device authorization endpoint (RFC 8628 §3.1).
        token_url: the token endpoint, for polling and refresh.
        revocation_url: the RFC 7009 revocation endpoint, when known.
        issuer: the issuer identifier, when known.
        dialect: ``"v2"``, ``"v1"`` or ``"rfc8628"``.
    """

    __slots__ = ("device_authorization_url", "token_url", "revocation_url", "issuer", "dialect")

    if TYPE_CHECKING:
        device_authorization_url: str
        token_url: str
        revocation_url: str | None
        issuer: str | None
        dialect: str

    def __init__(
        self,
        *,
        device_authorization_url: str,
        token_url: str,
        revocation_url: "str | None" = None,
        issuer: "str | None" = None,
        dialect: str = DIALECT_V2,
    ) -> None:
        if dialect not in DIALECTS:
            raise ValueError("dialect must be one of " + repr(DIALECTS))
        self._set(
            "device_authorization_url",
            _check_url("device_authorization_url", device_authorization_url),
        )
        self._set("token_url", _check_url("token_url", token_url))
        self._set("revocation_url", _check_url("revocation_url", revocation_url, optional=True))
        self._set("issuer", _check_url("issuer", issuer, optional=True))
        self._set("dialect", dialect)

    def __repr__(self) -> str:
        return (
            "Endpoints(device_authorization_url="
            + repr(self.device_authorization_url)
            + ", token_url="
            + repr(self.token_url)
            + ", dialect="
            + repr(self.dialect)
            + ")"
        )
