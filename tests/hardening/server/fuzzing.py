"""Hypothesis strategies for requests to every endpoint, and a raw ASGI caller.

A request is ``(method, path, query, headers, body, client_ip)``. Bodies are urlencoded forms
with known and unknown parameter names (repeated ones too), invalid UTF-8, bad percent-escapes,
JSON, multipart and oversized blobs; headers vary the content type, cookies and authorization;
tenants are known names, aliases and junk. :func:`call` hands one request straight to the ASGI
app (no sockets), so a few hundred cases per endpoint take seconds.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlencode

from hypothesis import strategies as st

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
Request = tuple[str, str, bytes, list[tuple[bytes, bytes]], bytes, str]

AREAS: dict[str, list[tuple[str, str]]] = {
    # area: [(usual method, path template)]
    "token endpoint": [("POST", "/{t}/oauth2/v2.0/token"), ("POST", "/{t}/oauth2/token")],
    "device authorization endpoint": [
        ("POST", "/{t}/oauth2/v2.0/devicecode"),
        ("POST", "/{t}/oauth2/devicecode"),
    ],
    "revocation and introspection": [
        ("POST", "/{t}/oauth2/v2.0/revoke"),
        ("POST", "/{t}/oauth2/v2.0/introspect"),
    ],
    "verification pages": [
        ("GET", "/devicelogin"),
        ("POST", "/devicelogin"),
        ("POST", "/devicelogin/signin"),
        ("POST", "/devicelogin/decide"),
        ("GET", "/{t}/oauth2/v2.0/logout"),
        ("POST", "/{t}/oauth2/v2.0/logout"),
        ("POST", "/{t}/oauth2/logout"),
    ],
    "discovery and JWKS": [
        ("GET", "/{t}/v2.0/.well-known/openid-configuration"),
        ("GET", "/.well-known/oauth-authorization-server/{t}/v2.0"),
        ("GET", "/{t}/discovery/v2.0/keys"),
        ("GET", "/{t}/oauth2/v2.0/authorize"),
    ],
    "Graph emulation and presence page": [
        ("GET", "/v1.0/me"),
        ("GET", "/beta/me"),
        ("GET", "/v1.0/me/presence"),
        ("GET", "/presence"),
        ("POST", "/presence"),
        ("POST", "/presence/signin"),
    ],
}

NAMES = [
    "grant_type", "device_code", "code", "client_id", "scope", "resource", "refresh_token",
    "token", "token_type_hint", "csrf_token", "decision", "username", "availability",
    "activity", "client_secret", "client_info", "client_assertion", "post_logout_redirect_uri",
    "state",
]  # fmt: skip
TENANTS = ["contoso", "fabrikam", "guarded", "closed", "closed-ms", "common", "CONTOSO"]
IPS = ["203.0.113.1", "203.0.113.2", "198.51.100.3", "::1", "10.20.0.5"]


def _values(live: dict[str, str]) -> st.SearchStrategy[str]:
    known = [
        DEVICE_GRANT, "refresh_token", "authorization_code", "hardening-lamp", "hostile",
        "no-device", "openid offline_access User.Read", "https://graph.microsoft.com",
        "approve", "deny", "Busy", "Available", "alice", "BCDF-GHJK", "%", "",
        *live.values(),
    ]  # fmt: skip
    return st.one_of(st.sampled_from(known), st.text(max_size=40), st.text("%0123456789abcdefXYZ"))


def _form(live: dict[str, str]) -> st.SearchStrategy[bytes]:
    pairs = st.lists(
        st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), _values(live)),
        max_size=8,
    )
    return pairs.map(lambda items: urlencode(items).encode())


def _bodies(live: dict[str, str]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        _form(live),
        _form(live).map(lambda b: b + b"&" + b if b else b"client_id=a&client_id=a"),
        st.binary(max_size=200),  # mostly invalid UTF-8
        st.sampled_from(
            [
                b"client_id=%zz&scope=%",
                b"device_code=%C3%28",
                b"grant_type=%FF%FE",
                b"\xff\xfe\x00=\x00",
                b"a=1;b=2",
                b"=&=&&=",
                b'{"client_id": "hardening-lamp"}',
                b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
                b"client_id=" + b"A" * 70_000,
                b"x" * (64 * 1024 + 1),
            ]
        ),  # fmt: skip
    )


_CONTENT_TYPES = [
    "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
    "application/json", "text/plain", "multipart/form-data; boundary=x", "",
    "APPLICATION/X-WWW-FORM-URLENCODED",
]  # fmt: skip
_LATIN1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)


def _headers(live: dict[str, str]) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    cookie = st.one_of(
        st.none(),
        _LATIN1.map(lambda v: f"deviceflow_session={v}"),
        st.just("deviceflow_session=e30.AAAA"),
    )
    authorization = st.one_of(
        st.none(),
        st.sampled_from([f"Bearer {live.get('access_token', 'x')}", "Bearer", "Basic Og=="]),
        _LATIN1.map(lambda v: f"Bearer {v}"),
    )
    accept = st.sampled_from(["application/json", "text/html", "*/*"])

    def build(parts: tuple[Any, ...]) -> list[tuple[bytes, bytes]]:
        content_type, cookie_value, auth, accept_value = parts
        found = [(b"host", b"testserver"), (b"accept", accept_value.encode())]
        if content_type:
            found.append((b"content-type", content_type.encode("latin-1")))
        if cookie_value is not None:
            found.append((b"cookie", cookie_value.encode("latin-1")))
        if auth is not None:
            found.append((b"authorization", auth.encode("latin-1")))
        return found

    return st.tuples(
        st.one_of(st.sampled_from(_CONTENT_TYPES), _LATIN1), cookie, authorization, accept
    ).map(build)


def requests_for(area: str, live: dict[str, str]) -> st.SearchStrategy[Request]:
    """Requests aimed at the endpoints of ``area`` (``live`` holds real codes and tokens)."""
    tenant = st.one_of(st.sampled_from(TENANTS), st.text(max_size=20))
    # Mostly the endpoint's own method (None), sometimes another one.
    method = st.sampled_from([None, None, None, "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"])
    query = st.one_of(
        st.just(b""),
        _form(live),
        st.binary(max_size=40),
        st.sampled_from([b"code=%zz", b"code=%FF", b"code=a&code=b", b"$select=id,%00"]),
    )

    def build(parts: tuple[Any, ...]) -> Request:
        (usual, template), name, chosen, q, headers, body, ip = parts
        path = template.replace("{t}", quote(name, safe="") or "x")
        return (chosen or usual, path, q, headers, body, ip)

    return st.tuples(
        st.sampled_from(AREAS[area]), tenant, method, query, _headers(live), _bodies(live),
        st.sampled_from(IPS),
    ).map(build)  # fmt: skip


async def call(app: Any, request: Request) -> int:
    """Send one request to an ASGI app; return the status (500 if the app raised)."""
    method, path, query, headers, body, ip = request

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("ascii"),
        "query_string": query,
        "root_path": "",
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
        "client": (ip, 50000),
        "server": ("testserver", 80),
    }
    half = len(body) // 2
    chunks = [
        {"type": "http.request", "body": body[:half], "more_body": True},
        {"type": "http.request", "body": body[half:], "more_body": False},
    ]
    status = 0

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    try:
        await app(scope, receive, send)
    except Exception:
        return 500
    return status
