"""Endpoints from a Microsoft authority or from an issuer's metadata (RFC 8414, OIDC Discovery).

See ``_endpoints`` for the three ways to get :class:`Endpoints`; this module holds the two that
compute them: :func:`microsoft_endpoints` (Microsoft reference §1) and discovery
(:func:`discovery_requests`, then :func:`endpoints_from_metadata`).
"""

from ._codec import decode_json_object, json_get, optional_str
from ._endpoints import DIALECT_RFC8628, DIALECT_V1, DIALECT_V2, Endpoints, _check_url, split_url
from ._errors import RemoteProtocolError
from ._messages import HttpRequest, HttpResponse

# typing.TYPE_CHECKING without importing typing (MicroPython has none; CPython skips ~2 ms of
# start-up): type checkers treat the name as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
MICROSOFT_TENANTS = ("common", "organizations", "consumers")

_HEXCHARS = "0123456789abcdefABCDEF"
_TENANT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"


def is_guid(text: str) -> bool:
    """``True`` for a GUID in its 8-4-4-4-12 hexadecimal form."""
    groups = text.split("-")
    if [len(group) for group in groups] != [8, 4, 4, 4, 12]:
        return False
    for group in groups:
        for char in group:
            if char not in _HEXCHARS:
                return False
    return True


def _check_tenant(tenant: object) -> str:
    if not isinstance(tenant, str) or not tenant or len(tenant) > 253:
        raise ValueError("tenant must be a non-empty str")
    if tenant in MICROSOFT_TENANTS or is_guid(tenant):
        return tenant
    for char in tenant:
        if char not in _TENANT_CHARS:
            raise ValueError("tenant must be common, organizations, consumers, a GUID or a domain")
    if tenant.strip(".") == "" or ".." in tenant:
        raise ValueError("tenant must be common, organizations, consumers, a GUID or a domain")
    return tenant


def microsoft_endpoints(
    tenant: "str | None" = None,
    *,
    authority: str = MICROSOFT_AUTHORITY,
    version: str = "v2.0",
) -> Endpoints:
    """Endpoints of a Microsoft identity platform authority (Microsoft reference §1).

    Args:
        tenant: ``common``, ``organizations``, ``consumers``, a tenant GUID or a verified domain.
            When omitted, the last path segment of ``authority`` is used if it has one
            (``https://login.microsoftonline.com/contoso.com``), else ``organizations``.
        authority: the scheme and host (and optional path prefix) of the authority: the public
            cloud by default, a sovereign cloud, or our own server.
        version: ``"v2.0"`` (or ``"v2"``) or ``"v1"`` (or ``"v1.0"``). An authority pasted with a
            trailing ``/v2.0`` segment is accepted.

    Returns:
        The endpoints, with dialect ``"v2"`` or ``"v1"``.

    Raises:
        ValueError: the authority is not an http(s) URL, or the tenant or version is unknown.
    """
    if version in ("v2.0", "v2", "2.0"):
        dialect = DIALECT_V2
    elif version in ("v1", "v1.0", "1.0"):
        dialect = DIALECT_V1
    else:
        raise ValueError("version must be 'v2.0' or 'v1'")
    scheme, host, rest = split_url(authority)
    path = rest.partition("?")[0]
    segments = [segment for segment in path.split("/") if segment]
    if segments and segments[-1] == "v2.0":
        segments.pop()
    if tenant is None:
        tenant = segments.pop() if segments else "organizations"
    tenant = _check_tenant(tenant)
    base = scheme + "://" + host + "".join("/" + segment for segment in segments) + "/" + tenant
    if dialect == DIALECT_V2:
        return Endpoints(
            device_authorization_url=base + "/oauth2/v2.0/devicecode",
            token_url=base + "/oauth2/v2.0/token",
            issuer=base + "/v2.0",
            dialect=DIALECT_V2,
        )
    return Endpoints(
        device_authorization_url=base + "/oauth2/devicecode",
        token_url=base + "/oauth2/token",
        issuer=base,
        dialect=DIALECT_V1,
    )


def discovery_requests(issuer: str) -> "list[HttpRequest]":
    """The metadata requests for ``issuer``, to try in order until one answers 200.

    First OpenID Connect Discovery (``{issuer}/.well-known/openid-configuration``), then RFC 8414
    §3.1 (``/.well-known/oauth-authorization-server`` inserted between host and path).

    Raises:
        ValueError: ``issuer`` is not an http(s) URL, or has a query.
    """
    scheme, host, rest = split_url(issuer)
    if "?" in rest:
        raise ValueError("an issuer identifier has no query component (RFC 8414 §2)")
    path = rest.rstrip("/")
    origin = scheme + "://" + host
    return [
        json_get(origin + path + "/.well-known/openid-configuration"),
        json_get(origin + "/.well-known/oauth-authorization-server" + path),
    ]


def _guess_dialect(device_authorization_url: str) -> str:
    path = split_url(device_authorization_url)[2].partition("?")[0]
    if path.endswith("/oauth2/v2.0/devicecode"):
        return DIALECT_V2
    if path.endswith("/oauth2/devicecode"):
        return DIALECT_V1
    return DIALECT_RFC8628


def _same_issuer(expected: str, actual: str) -> bool:
    """RFC 8414 §3.3 issuer comparison, with Microsoft's multi-tenant exception.

    Microsoft's ``common``/``organizations``/``consumers`` documents carry the literal placeholder
    ``{tenantid}``, and a domain tenant's document names the tenant's GUID: both differ from the
    requested issuer only in the tenant segment, on the same host.
    """
    expected = expected.rstrip("/")
    actual = actual.rstrip("/")
    if expected == actual:
        return True
    try:
        e_scheme, e_host, e_rest = split_url(expected)
        a_scheme, a_host, a_rest = split_url(actual.replace("{tenantid}", "tenantid"))
    except ValueError:
        return False
    e_parts = e_rest.split("/")
    a_parts = a_rest.split("/")
    if (e_scheme, e_host.lower(), len(e_parts)) != (a_scheme, a_host.lower(), len(a_parts)):
        return False
    if len(e_parts) < 2 or e_parts[2:] != a_parts[2:]:
        return False
    return a_parts[1] == "tenantid" or is_guid(a_parts[1])


def endpoints_from_metadata(
    response: HttpResponse, *, issuer: str, dialect: "str | None" = None
) -> Endpoints:
    """Read :class:`Endpoints` from an authorization server metadata response.

    Args:
        response: the answer to one of :func:`discovery_requests`.
        issuer: the issuer that was asked.
        dialect: force a dialect; by default it is inferred from the device authorization URL's
            shape (Microsoft v2.0 and v1 paths, otherwise ``"rfc8628"``).

    Raises:
        RemoteProtocolError: the status is not 2xx, the body is not a JSON object, the
            ``device_authorization_endpoint`` or ``token_endpoint`` is missing or not an http(s)
            URL, an https issuer advertises plain http endpoints, or the document's ``issuer``
            differs from the one asked (RFC 8414 §3.3). Try the next request on a non-2xx status.
    """
    what = "authorization server metadata"
    status = response.status
    if not 200 <= status <= 299:
        raise RemoteProtocolError(what + " not available", status=status)
    obj = decode_json_object(response, what)
    stated = obj.get("issuer")
    if isinstance(stated, str) and not _same_issuer(issuer, stated):
        raise RemoteProtocolError(
            what + ": issuer " + repr(stated) + " does not match " + repr(issuer), status=status
        )
    urls: "dict[str, Any]" = {}
    for member in ("device_authorization_endpoint", "token_endpoint", "revocation_endpoint"):
        value = optional_str(obj, member)
        try:
            _check_url(member, value, optional=True)
        except (TypeError, ValueError):
            value = None
        if value is not None and issuer.lower().startswith("https:"):
            if not value.lower().startswith("https:"):
                raise RemoteProtocolError(
                    what + ": " + member + " downgrades to plain http", status=status
                )
        urls[member] = value
    for member in ("device_authorization_endpoint", "token_endpoint"):
        if urls[member] is None:
            raise RemoteProtocolError(
                what + ": '" + member + "' is missing or not an http(s) URL", status=status
            )
    device_url = urls["device_authorization_endpoint"]
    return Endpoints(
        device_authorization_url=device_url,
        token_url=urls["token_endpoint"],
        revocation_url=urls["revocation_endpoint"],
        issuer=issuer,
        dialect=dialect if dialect is not None else _guess_dialect(device_url),
    )


class Discovery:
    """Finding an issuer's endpoints: which metadata URLs to try, in order, and when to stop.

    A driver sends each of :attr:`requests` in turn and hands the answer to :meth:`receive`; the
    first usable document wins. A non-2xx answer or an unusable document moves on to the next
    URL; when none is left, :meth:`failure` says why::

        discovery = Discovery(issuer)
        for request in discovery.requests:
            endpoints = discovery.receive(send(request))
            if endpoints is not None:
                break
        else:
            raise discovery.failure()

    Args:
        issuer: the issuer identifier (an http(s) URL without a query).

    Attributes:
        issuer: the issuer asked about.
        requests: the metadata requests (:func:`discovery_requests`).
        error: why the last unusable document was rejected, or ``None``.

    Raises:
        ValueError: ``issuer`` is not an http(s) URL, or has a query.
    """

    __slots__ = ("issuer", "requests", "error")

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.requests = discovery_requests(issuer)
        self.error: "RemoteProtocolError | None" = None

    def receive(self, response: HttpResponse) -> "Endpoints | None":
        """The endpoints in ``response``, or ``None`` to try the next request."""
        if not 200 <= response.status <= 299:
            return None
        try:
            return endpoints_from_metadata(response, issuer=self.issuer)
        except RemoteProtocolError as exc:
            self.error = exc
            return None

    def failure(self) -> RemoteProtocolError:
        """The error to raise when no request gave endpoints: the last rejection, if any."""
        if self.error is not None:
            return self.error
        return RemoteProtocolError(
            "no usable discovery document (with a device_authorization_endpoint) for issuer "
            + self.issuer
        )
