"""Signed tokens, JWKS, refresh rotation and revocation (RFC 7519, RFC 9700 §4.14, RFC 7009)."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from deviceflow.server.grant import GRAPH_AUDIENCE, GrantEngine, GrantError, IssuedTokens
from deviceflow.server.settings import AZURE_CLI_CLIENT_ID, DEMO_CLIENT_ID, Settings
from tests.support.clock import FakeClock
from tests.support.grant import approve, redeem, start, tenant_of
from tests.support.grant_fixtures import EngineFactory


def b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    return json.loads(b64(head)), json.loads(b64(body))


def signed_in(
    engine: GrantEngine, scope: str = "openid profile email offline_access User.Read"
) -> IssuedTokens:
    auth = start(engine, scope)
    approve(engine, auth.user_code)
    return redeem(engine, auth.device_code)


def refresh(
    engine: GrantEngine,
    token: str | None,
    scope: str | None = None,
    client_id: str = DEMO_CLIENT_ID,
) -> IssuedTokens:
    assert token is not None
    return engine.refresh(
        tenant=tenant_of(engine),
        client_id=client_id,
        refresh_token=token,
        scope=scope,
        ip="192.0.2.1",
    )


def refresh_error(engine: GrantEngine, token: str | None, **kw: Any) -> GrantError:
    with pytest.raises(GrantError) as info:
        refresh(engine, token, **kw)
    return info.value


def test_access_token_claims(engine_factory: EngineFactory, clock: FakeClock) -> None:
    engine = engine_factory(public_url="https://login.example")
    tokens = signed_in(engine)
    header, claims = decode(tokens.access_token)
    assert header == {"alg": "RS256", "kid": engine.jwks()["keys"][0]["kid"], "typ": "JWT"}
    tenant = tenant_of(engine)
    user = tokens.user
    assert claims["iss"] == f"https://login.example/{tenant.guid}/v2.0" == engine.issuer(tenant)
    assert claims["aud"] == GRAPH_AUDIENCE
    assert claims["tid"] == tenant.guid and claims["oid"] == user.id
    assert claims["scp"] == "openid profile email User.Read" == tokens.scope
    assert claims["name"] == "Adele Vance" and claims["preferred_username"] == "adele@demo.example"
    assert claims["iat"] == int(clock.now) and claims["exp"] == int(clock.now) + 3600
    assert claims["azp"] == DEMO_CLIENT_ID and tokens.expires_in == 3600
    assert tokens.token_type == "Bearer"


def test_id_token_claims(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    tokens = signed_in(engine)
    assert tokens.id_token is not None
    _, claims = decode(tokens.id_token)
    assert claims["aud"] == DEMO_CLIENT_ID and claims["ver"] == "2.0"
    assert claims["email"] == "adele@demo.example"
    assert claims["sub"] and claims["sub"] != tokens.user.id


def test_no_openid_no_id_token_no_offline_access_no_refresh_token(
    engine_factory: EngineFactory,
) -> None:
    tokens = signed_in(engine_factory(), "User.Read")
    assert tokens.id_token is None and tokens.refresh_token is None


def test_jwks_verifies_the_signature(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    tokens = signed_in(engine)
    (jwk,) = engine.jwks()["keys"]
    assert (jwk["kty"], jwk["use"], jwk["alg"], jwk["e"]) == ("RSA", "sig", "RS256", "AQAB")
    public = rsa.RSAPublicNumbers(
        int.from_bytes(b64(jwk["e"]), "big"), int.from_bytes(b64(jwk["n"]), "big")
    ).public_key()
    head, body, sig = tokens.access_token.split(".")
    public.verify(b64(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())


def test_signing_key_survives_a_new_engine_on_the_same_storage(
    engine_factory: EngineFactory,
) -> None:
    first = engine_factory()
    tokens = signed_in(first)
    second = engine_factory(storage=first._storage)
    assert second.jwks() == first.jwks()
    assert second.verify_access_token(tokens.access_token)["oid"] == tokens.user.id


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(
            lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), id="signature"
        ),
        pytest.param(lambda t: "x.y", id="shape"),
        pytest.param(lambda t: "e30." + t.split(".", 1)[1], id="header"),
        pytest.param(lambda t: "!!." + t.split(".", 1)[1], id="garbage"),
    ],
)
def test_tampered_tokens_are_invalid(engine_factory: EngineFactory, mangle: Any) -> None:
    engine = engine_factory()
    tokens = signed_in(engine)
    with pytest.raises(GrantError) as info:
        engine.verify_access_token(mangle(tokens.access_token))
    assert (info.value.error, info.value.status) == ("invalid_token", 401)


def test_expired_access_token_is_invalid(engine_factory: EngineFactory, clock: FakeClock) -> None:
    engine = engine_factory()
    tokens = signed_in(engine)
    clock.advance(3599)
    engine.verify_access_token(tokens.access_token)
    clock.advance(1)
    with pytest.raises(GrantError, match="expired"):
        engine.verify_access_token(tokens.access_token)


def test_refresh_issues_new_tokens_with_origin_kept(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    tokens = signed_in(engine)
    renewed = refresh(engine, tokens.refresh_token)
    assert renewed.grant_type == "refresh_token" and renewed.origin == "device_code"
    assert renewed.refresh_token not in (None, tokens.refresh_token)
    assert decode(renewed.access_token)[1]["sid"] == decode(tokens.access_token)[1]["sid"]


def test_strict_rotation_reuse_revokes_the_family(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    tokens = signed_in(engine)
    renewed = refresh(engine, tokens.refresh_token)
    err = refresh_error(engine, tokens.refresh_token)
    assert (err.error, err.reason) == ("invalid_grant", "refresh_reused")
    assert refresh_error(engine, renewed.refresh_token).reason == "refresh_revoked"
    with pytest.raises(GrantError):
        engine.verify_access_token(renewed.access_token)


def test_microsoft_rotation_keeps_the_old_token_valid(engine_factory: EngineFactory) -> None:
    engine = engine_factory(refresh_rotation="reusable")
    tokens = signed_in(engine)
    first = refresh(engine, tokens.refresh_token)
    second = refresh(engine, tokens.refresh_token)
    assert first.refresh_token != second.refresh_token
    refresh(engine, first.refresh_token)


def test_refresh_can_narrow_but_not_widen_scopes(engine_factory: EngineFactory) -> None:
    engine = engine_factory(refresh_rotation="reusable")
    tokens = signed_in(engine)
    assert refresh(engine, tokens.refresh_token, "User.Read").scope == "User.Read"
    assert (
        refresh(engine, tokens.refresh_token, "https://graph.microsoft.com/.default").scope
        == tokens.scope
    )
    assert refresh_error(engine, tokens.refresh_token, scope="Mail.Read").error == "invalid_scope"


@pytest.mark.parametrize("rotation", ["strict", "reusable"])
def test_narrowed_refresh_keeps_the_original_scope_on_the_new_refresh_token(
    engine_factory: EngineFactory, rotation: str
) -> None:
    # RFC 6749 §6: the narrowed scope is the new access token's; "If a new refresh token is
    # issued, the refresh token scope MUST be identical to that of the refresh token included by
    # the client in the request."
    engine = engine_factory(refresh_rotation=rotation)
    tokens = signed_in(engine)
    narrowed = refresh(engine, tokens.refresh_token, "User.Read offline_access")
    assert narrowed.scope == "User.Read"
    assert decode(narrowed.access_token)[1]["scp"] == "User.Read"
    widened_again = refresh(engine, narrowed.refresh_token)
    assert widened_again.scope == tokens.scope == "openid profile email User.Read"
    assert widened_again.id_token is not None
    again = refresh(engine, widened_again.refresh_token, "openid email")
    assert again.scope == "openid email"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("unknown", "refresh_unknown"),
        ("other-client", "refresh_unknown"),
        ("expired", "refresh_expired"),
        ("blocked", "device_flow_blocked"),
        ("disabled", "user_disabled"),
    ],
)
def test_refresh_refusals(
    engine_factory: EngineFactory, dev_settings: Settings, clock: FakeClock, case: str, reason: str
) -> None:
    engine = engine_factory()
    tokens = signed_in(engine)
    token, client_id = tokens.refresh_token, DEMO_CLIENT_ID
    if case == "unknown":
        token = "not-a-token"
    elif case == "other-client":
        client_id = AZURE_CLI_CLIENT_ID
    elif case == "expired":
        clock.advance(90 * 86400)
    elif case == "blocked":
        tenant = dataclasses.replace(dev_settings.tenants[0], device_code_refresh=False)
        engine.settings = dataclasses.replace(dev_settings, tenants=(tenant,))
    else:
        users = tuple(dataclasses.replace(u, enabled=False) for u in dev_settings.users)
        engine.settings = dataclasses.replace(dev_settings, users=users)
    err = refresh_error(engine, token, client_id=client_id)
    assert (err.error, err.reason) == ("invalid_grant", reason)


def test_absolute_cap_is_enforced_under_repeated_refresh(
    engine_factory: EngineFactory, dev_settings: Settings, clock: FakeClock
) -> None:
    lifetimes = dataclasses.replace(
        dev_settings.lifetimes, refresh_token=100, refresh_token_absolute=250
    )
    engine = engine_factory(lifetimes=lifetimes)
    token = signed_in(engine).refresh_token
    for _ in range(2):
        clock.advance(99)
        token = refresh(engine, token).refresh_token
    clock.advance(99)  # 297 s after sign-in: past the absolute cap although the token is new
    assert refresh_error(engine, token).reason == "refresh_expired"


def test_revoking_a_refresh_token_revokes_its_family(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    tokens = signed_in(engine)
    engine.revoke(
        tenant=tenant_of(engine), token=tokens.refresh_token or "", client_id=DEMO_CLIENT_ID
    )
    assert refresh_error(engine, tokens.refresh_token).reason == "refresh_revoked"
    with pytest.raises(GrantError):
        engine.verify_access_token(tokens.access_token)


def test_revoking_an_access_token_leaves_the_refresh_token(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    tokens = signed_in(engine)
    engine.revoke(tenant=tenant_of(engine), token=tokens.access_token, client_id=DEMO_CLIENT_ID)
    with pytest.raises(GrantError, match="revoked"):
        engine.verify_access_token(tokens.access_token)
    refresh(engine, tokens.refresh_token)


def test_revoke_accepts_unknown_tokens_and_refuses_foreign_clients(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory()
    tokens = signed_in(engine)
    engine.revoke(tenant=tenant_of(engine), token="unknown", client_id=DEMO_CLIENT_ID)
    for token in (tokens.refresh_token or "", tokens.access_token):
        with pytest.raises(GrantError) as info:
            engine.revoke(tenant=tenant_of(engine), token=token, client_id=AZURE_CLI_CLIENT_ID)
        assert info.value.error == "unauthorized_client"
    engine.verify_access_token(tokens.access_token)


def test_custom_api_scope_sets_the_audience(
    engine_factory: EngineFactory, dev_settings: Settings
) -> None:
    client = dataclasses.replace(dev_settings.clients[0], scopes=("openid", "api://orders/read"))
    engine = engine_factory(clients=(client,))
    tokens = signed_in(engine, "openid api://orders/read")
    _, claims = decode(tokens.access_token)
    assert claims["aud"] == "api://orders" and claims["scp"] == "openid api://orders/read"


@pytest.mark.parametrize(
    "resource",
    [
        "https://graph.microsoft.com",
        "https://graph.microsoft.com/",
        "00000003-0000-0000-c000-000000000000",
        "HTTPS://GRAPH.MICROSOFT.COM",
    ],
)
def test_refresh_for_graph_under_each_of_its_names(
    engine_factory: EngineFactory, resource: str
) -> None:
    engine = engine_factory(refresh_rotation="reusable")
    tokens = signed_in(engine)
    again = engine.refresh(
        tenant=tenant_of(engine),
        client_id=DEMO_CLIENT_ID,
        refresh_token=tokens.refresh_token or "",
        scope=None,
        ip="192.0.2.1",
        resource=resource,
    )
    assert decode(again.access_token)[1]["aud"] == GRAPH_AUDIENCE
    assert again.scope == tokens.scope
