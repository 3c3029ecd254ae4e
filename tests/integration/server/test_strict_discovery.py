"""A strict OpenID Connect client against each tenant name (RFC 8414 §3.3, OIDC Discovery §4.3).

Strict clients (openid-client, Authlib) use a discovery document only when its ``issuer`` is
exactly the issuer they asked about, then check that every ID token's ``iss`` is that issuer.
``strict_flow`` does what they do: discover, run the device flow and a refresh through the
document's endpoints, verify each ID token's signature against ``jwks_uri``, its ``iss`` and
``aud``. An RFC tenant is its own issuer under every name it answers to; a Microsoft tenant keeps
Entra's behaviour (the GUID issuer whatever the name), so only the GUID URL is strict there.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.app_harness import ALICE, BOB, CLIENT_ID, DEVICE_GRANT, Harness

pytestmark = pytest.mark.anyio

CONTOSO_GUID = "11111111-2222-4333-8444-555555555555"


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verified_claims(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The claims of an RS256 JWT whose signature a key of ``jwks`` verifies."""
    head, body, signature = token.split(".")
    header = json.loads(_b64(head))
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(_b64(jwk["e"]), "big"), int.from_bytes(_b64(jwk["n"]), "big")
    )
    numbers.public_key().verify(
        _b64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    claims: dict[str, Any] = json.loads(_b64(body))
    return claims


async def strict_flow(
    server: Harness, metadata_url: str, issuer: str, credentials: tuple[str, str]
) -> list[dict[str, Any]]:
    """Discover at ``metadata_url`` expecting ``issuer``; sign in and refresh; return the
    verified ID token claims (sign-in, refresh)."""
    http = server.client()
    doc = (await http.get(metadata_url)).json()
    assert doc["issuer"] == issuer  # RFC 8414 §3.3: identical, or the document is not used
    started = await http.post(
        doc["device_authorization_endpoint"],
        data={"client_id": CLIENT_ID, "scope": "openid profile offline_access User.Read"},
    )
    assert started.status_code == 200, started.text
    code = started.json()
    assert (await server.decide(code["user_code"], credentials=credentials)).status_code == 200
    server.clock.advance(code["interval"])
    form = {"grant_type": DEVICE_GRANT, "device_code": code["device_code"], "client_id": CLIENT_ID}
    tokens = (await http.post(doc["token_endpoint"], data=form)).json()
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": CLIENT_ID,
    }
    refreshed = (await http.post(doc["token_endpoint"], data=refresh)).json()
    jwks = (await http.get(doc["jwks_uri"])).json()
    found = []
    for body in (tokens, refreshed):
        claims = verified_claims(body["id_token"], jwks)
        assert claims["iss"] == doc["issuer"]  # OIDC Core §3.1.3.7 step 2
        assert claims["aud"] == CLIENT_ID
        assert verified_claims(body["access_token"], jwks)["iss"] == doc["issuer"]
        found.append(claims)
    return found


@pytest.mark.parametrize(
    ("metadata_path", "issuer_path"),
    [
        pytest.param("/contoso/v2.0/.well-known/openid-configuration", "/contoso/v2.0", id="oidc"),
        pytest.param(
            "/.well-known/oauth-authorization-server/contoso/v2.0", "/contoso/v2.0", id="rfc8414"
        ),
        pytest.param(
            "/contoso.example/v2.0/.well-known/openid-configuration",
            "/contoso.example/v2.0",
            id="alias",
        ),
        pytest.param(
            f"/{CONTOSO_GUID}/v2.0/.well-known/openid-configuration",
            f"/{CONTOSO_GUID}/v2.0",
            id="guid",
        ),
    ],
)
async def test_rfc_tenant_is_its_own_issuer_under_each_name(
    server: Harness, metadata_path: str, issuer_path: str
) -> None:
    issuer = f"http://testserver{issuer_path}"
    signed_in, refreshed = await strict_flow(server, metadata_path, issuer, ALICE)
    assert signed_in["sub"] == refreshed["sub"]
    assert signed_in["tid"] == CONTOSO_GUID


async def test_microsoft_tenant_keeps_entra_s_guid_issuer_under_every_name(
    server: Harness,
) -> None:
    http = server.client()
    doc = (await http.get("/fabrikam/v2.0/.well-known/openid-configuration")).json()
    guid = server.app.state.ctx.settings.resolve_tenant("fabrikam").guid
    assert doc["issuer"] == f"http://testserver/{guid}/v2.0"  # as Entra: GUID, not the name
    by_guid = f"/{guid}/v2.0/.well-known/openid-configuration"
    await strict_flow(server, by_guid, doc["issuer"], BOB)
