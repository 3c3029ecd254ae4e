"""Endpoints: Microsoft authorities (any host, any tenant, v1/v2.0), discovery and metadata."""

from __future__ import annotations

import pytest

from deviceflow.core import (
    Endpoints,
    RemoteProtocolError,
    discovery_requests,
    endpoints_from_metadata,
    microsoft_endpoints,
)

from ._support import respond

GUID = "9188040d-6c67-4c5b-b112-36a304b66dad"


@pytest.mark.parametrize(
    ("args", "kwargs", "device", "token", "dialect"),
    [
        pytest.param(
            (),
            {},
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode",
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
            "v2",
            id="default-organizations-v2",
        ),
        pytest.param(
            ("consumers",),
            {"version": "v1"},
            "https://login.microsoftonline.com/consumers/oauth2/devicecode",
            "https://login.microsoftonline.com/consumers/oauth2/token",
            "v1",
            id="consumers-v1",
        ),
        pytest.param(
            (GUID,),
            {"authority": "https://login.microsoftonline.us/"},
            f"https://login.microsoftonline.us/{GUID}/oauth2/v2.0/devicecode",
            f"https://login.microsoftonline.us/{GUID}/oauth2/v2.0/token",
            "v2",
            id="guid-sovereign-cloud",
        ),
        pytest.param(
            (),
            {"authority": "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"},
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode",
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
            "v2",
            id="domain-in-authority-with-v2.0-suffix",
        ),
        pytest.param(
            ("common",),
            {"authority": "http://127.0.0.1:8080/idp", "version": "1.0"},
            "http://127.0.0.1:8080/idp/common/oauth2/devicecode",
            "http://127.0.0.1:8080/idp/common/oauth2/token",
            "v1",
            id="own-server-with-prefix",
        ),
    ],
)
def test_microsoft_endpoints_tenant_and_host_build_urls(
    args: tuple, kwargs: dict, device: str, token: str, dialect: str
) -> None:
    endpoints = microsoft_endpoints(*args, **kwargs)
    assert (endpoints.device_authorization_url, endpoints.token_url, endpoints.dialect) == (
        device,
        token,
        dialect,
    )


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        pytest.param(("common",), {"version": "v3"}, id="unknown-version"),
        pytest.param(("a/b",), {}, id="tenant-with-slash"),
        pytest.param(("..",), {}, id="tenant-dot-dot"),
        pytest.param(("",), {}, id="empty-tenant"),
        pytest.param(("common",), {"authority": "login.microsoftonline.com"}, id="no-scheme"),
        pytest.param(("common",), {"authority": "https://user@host"}, id="userinfo"),
        pytest.param(("common",), {"authority": "https://host/#frag"}, id="fragment"),
        pytest.param(("common",), {"authority": "https://ho st"}, id="space"),
        pytest.param(("common",), {"authority": "https:///path"}, id="no-host"),
    ],
)
def test_microsoft_endpoints_bad_arguments_raise_value_error(args: tuple, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        microsoft_endpoints(*args, **kwargs)


def test_endpoints_validation_equality_and_repr() -> None:
    one = Endpoints(device_authorization_url="https://a/d", token_url="https://a/t")
    two = Endpoints(device_authorization_url="https://a/d", token_url="https://a/t", dialect="v2")
    assert one == two and hash(one) == hash(two) and one != "x"
    assert "https://a/d" in repr(one)
    with pytest.raises(ValueError):
        Endpoints(device_authorization_url="https://a/d", token_url="https://a/t", dialect="v9")
    with pytest.raises(TypeError):
        Endpoints(device_authorization_url=None, token_url="https://a/t")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        one.token_url = "https://b/t"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("issuer", "urls"),
    [
        pytest.param(
            "https://as.example.test",
            [
                "https://as.example.test/.well-known/openid-configuration",
                "https://as.example.test/.well-known/oauth-authorization-server",
            ],
            id="no-path",
        ),
        pytest.param(
            "https://login.microsoftonline.com/common/v2.0/",
            [
                "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
                "https://login.microsoftonline.com/.well-known/oauth-authorization-server/common/v2.0",
            ],
            id="with-path",
        ),
    ],
)
def test_discovery_requests_oidc_then_rfc8414(issuer: str, urls: list[str]) -> None:
    requests = discovery_requests(issuer)
    assert [r.url for r in requests] == urls
    assert all(r.method == "GET" and r.header("Accept") == "application/json" for r in requests)


def test_discovery_requests_issuer_with_query_raises() -> None:
    with pytest.raises(ValueError):
        discovery_requests("https://as.example.test/?x=1")


def _metadata(**members: object) -> dict[str, object]:
    body: dict[str, object] = {
        "issuer": "https://as.example.test",
        "device_authorization_endpoint": "https://as.example.test/device",
        "token_endpoint": "https://as.example.test/token",
        "revocation_endpoint": "https://as.example.test/revoke",
    }
    body.update(members)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.spec("RFC8414", "3.2")
def test_endpoints_from_metadata_rfc_server_reads_urls() -> None:
    endpoints = endpoints_from_metadata(
        respond(200, _metadata()), issuer="https://as.example.test/"
    )
    assert endpoints == Endpoints(
        device_authorization_url="https://as.example.test/device",
        token_url="https://as.example.test/token",
        revocation_url="https://as.example.test/revoke",
        issuer="https://as.example.test/",
        dialect="rfc8628",
    )


@pytest.mark.parametrize(
    ("issuer", "stated", "device", "dialect"),
    [
        pytest.param(
            "https://login.microsoftonline.com/common/v2.0",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
            "v2",
            id="v2-common-placeholder",
        ),
        pytest.param(
            "https://login.microsoftonline.com/contoso.com/v2.0",
            f"https://login.microsoftonline.com/{GUID}/v2.0",
            "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/devicecode",
            "v2",
            id="v2-domain-to-guid",
        ),
        pytest.param(
            "https://login.microsoftonline.com/common",
            "https://login.microsoftonline.com/{tenantid}",
            "https://login.microsoftonline.com/common/oauth2/devicecode",
            "v1",
            id="v1",
        ),
    ],
)
def test_endpoints_from_metadata_microsoft_documents_are_accepted(
    issuer: str, stated: str, device: str, dialect: str
) -> None:
    body = _metadata(
        issuer=stated,
        device_authorization_endpoint=device,
        token_endpoint=device.replace("devicecode", "token"),
        revocation_endpoint=None,
    )
    endpoints = endpoints_from_metadata(respond(200, body), issuer=issuer)
    assert endpoints.dialect == dialect
    assert endpoints.revocation_url is None


@pytest.mark.parametrize(
    ("response", "text"),
    [
        pytest.param(respond(404, b"<html>Not Found</html>"), "not available (HTTP 404)", id="404"),
        pytest.param(respond(200, b"<html/>"), "is not JSON", id="html"),
        pytest.param(
            respond(200, _metadata(device_authorization_endpoint=None)),
            "'device_authorization_endpoint' is missing",
            id="no-device-endpoint",
        ),
        pytest.param(
            respond(200, _metadata(token_endpoint="/token")),
            "'token_endpoint' is missing or not an http(s) URL",
            id="relative-token-endpoint",
        ),
        pytest.param(
            respond(200, _metadata(token_endpoint="http://as.example.test/token")),
            "downgrades to plain http",
            id="http-downgrade",
        ),
        pytest.param(
            respond(200, _metadata(issuer="https://evil.example.test")),
            "does not match",
            id="issuer-mismatch",
        ),
        pytest.param(
            respond(200, _metadata(issuer="https://as.example.test/other/path")),
            "does not match",
            id="issuer-path-mismatch",
        ),
        pytest.param(
            respond(200, _metadata(issuer="not a url")), "does not match", id="issuer-not-url"
        ),
    ],
)
@pytest.mark.spec("RFC8414", "3.3")
def test_endpoints_from_metadata_bad_document_raises(response: object, text: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        endpoints_from_metadata(response, issuer="https://as.example.test")  # type: ignore[arg-type]
    assert text in str(info.value)


def test_endpoints_from_metadata_microsoft_issuer_on_other_host_is_refused() -> None:
    body = _metadata(issuer=f"https://evil.example.test/{GUID}/v2.0")
    with pytest.raises(RemoteProtocolError, match="does not match"):
        endpoints_from_metadata(
            respond(200, body), issuer="https://login.microsoftonline.com/common/v2.0"
        )


def test_endpoints_from_metadata_forced_dialect_and_bad_revocation_ignored() -> None:
    body = _metadata(revocation_endpoint="not a url")
    endpoints = endpoints_from_metadata(
        respond(200, body), issuer="https://as.example.test", dialect="v2"
    )
    assert (endpoints.dialect, endpoints.revocation_url) == ("v2", None)
