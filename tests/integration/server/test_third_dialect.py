"""A third dialect from this one module and one ``register`` call, no server file changed.

``GoogleishDialect`` is shaped after Google's device flow: ``verification_url`` instead of
``verification_uri``, no ``verification_uri_complete``, user codes like ``BCD-FGH-JKL``, HTTP
reason phrases as error descriptions (``Precondition Required`` for a pending poll),
``admin_policy_enforced`` when an administrator blocks the flow, refresh tokens that stay valid
after use. It builds on the RFC dialect and maps the engine's neutral reasons to its own
spelling; a real flow through ``create_app`` shows each of its choices on the wire, next to an
RFC tenant of the same app that keeps its own.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from deviceflow.server.dialects import Verification, Wire, dialect_names, register, unregister
from deviceflow.server.dialects.rfc8628 import Rfc8628Dialect
from deviceflow.server.settings import DEFAULT_CHARSET, Settings, SettingsError, UserCodeFormat
from tests.support.app_harness import CLIENT_ID, CONFIG, DEVICE_GRANT, Harness, running

if TYPE_CHECKING:
    from deviceflow.server.grant import DeviceAuthorization, Reason
    from deviceflow.server.settings import Rotation

pytestmark = pytest.mark.anyio

CAROL = ("carol", "carol-pw-123")

_PHRASES: dict[Reason, tuple[str, str]] = {
    # reason: (error, error_description) as Google spells them
    "pending": ("authorization_pending", "Precondition Required"),
    "denied": ("access_denied", "Forbidden"),
    "expired": ("expired_token", "Bad Request"),
    "unknown_client": ("invalid_client", "The OAuth client was not found."),
    "device_flow_blocked": ("admin_policy_enforced", "Forbidden"),
}


class GoogleishDialect(Rfc8628Dialect):
    """Google's spelling of the device flow over the one grant engine."""

    name = "googleish"
    summary = "Google-shaped (a test dialect)"
    slow_down = True
    verification_uri_complete = False
    user_code: UserCodeFormat | None = UserCodeFormat(charset=DEFAULT_CHARSET, mask="XXX-XXX-XXX")
    refresh_rotation: Rotation = "reusable"
    cacheable_errors = True

    def device_authorization_body(
        self, authorization: DeviceAuthorization, verification: Verification, wire: Wire
    ) -> dict[str, Any]:
        body = super().device_authorization_body(authorization, verification, wire)
        body["verification_url"] = body.pop("verification_uri")
        return body

    def error_body(
        self, error: str, detail: str, *, reason: Reason | None = None, wire: Wire | None = None
    ) -> dict[str, Any]:
        spelled = _PHRASES.get(reason) if reason else None
        if spelled is not None:
            error, phrase = spelled
        else:
            phrase = "Forbidden" if error == "slow_down" else "Bad Request"
        return {"error": error, "error_description": phrase}


@pytest.fixture(scope="module")
def googleish() -> Iterator[GoogleishDialect]:
    dialect = register(GoogleishDialect())
    yield dialect
    unregister(dialect.name)


@pytest.fixture(scope="module")
def settings(googleish: GoogleishDialect) -> Settings:
    config = dict(CONFIG)
    config["refresh_rotation"] = "googleish"  # the rotation its provider uses: reusable
    config["tenants"] = [
        *CONFIG["tenants"],
        {"id": "acme", "dialect": "googleish"},
        {"id": "locked", "dialect": "googleish", "device_flow": False},
    ]
    config["users"] = [
        *CONFIG["users"],
        {"username": CAROL[0], "password": CAROL[1], "tenant": "acme"},
    ]
    return Settings.from_mapping(config)


@pytest.fixture
async def server(settings: Settings, anyio_backend: str) -> AsyncIterator[Harness]:
    async with running(settings) as harness:
        yield harness


def test_third_dialect_is_configurable_once_registered(settings: Settings) -> None:
    assert "googleish" in dialect_names()
    acme = settings.resolve_tenant("acme")
    assert acme is not None and acme.enforces_slow_down
    assert not acme.sends_verification_uri_complete
    assert settings.refresh_rotation == "reusable"
    contoso = settings.resolve_tenant("contoso")
    assert contoso is not None
    assert contoso.user_code_format(settings.user_code) == settings.user_code


def test_settings_accept_the_dialect_only_while_registered(googleish: GoogleishDialect) -> None:
    config = {"tenants": [{"id": "std", "user_code_style": "googleish"}]}
    (std,) = Settings.from_mapping(config).tenants
    assert std.dialect == "rfc8628"
    assert std.user_code_format(UserCodeFormat()) == googleish.user_code
    unregister(googleish.name)
    try:
        with pytest.raises(SettingsError, match=r"^tenants\[0\]\.user_code_style: expected"):
            Settings.from_mapping(config)
        with pytest.raises(SettingsError, match=r"^tenants\[0\]\.dialect: expected one of"):
            Settings.from_mapping({"tenants": [{"id": "acme", "dialect": "googleish"}]})
    finally:
        register(googleish)


async def test_device_flow_speaks_the_third_dialect(server: Harness) -> None:
    started = await server.authorize("acme")
    assert started["verification_url"] == "http://testserver/devicelogin"
    assert "verification_uri" not in started and "verification_uri_complete" not in started
    assert re.fullmatch(
        r"[BCDFGHJKLMNPQRSTVWXZ]{3}(-[BCDFGHJKLMNPQRSTVWXZ]{3}){2}", started["user_code"]
    )
    pending = await server.poll(started["device_code"], "acme")
    assert (pending.status_code, pending.json()) == (
        400,
        {"error": "authorization_pending", "error_description": "Precondition Required"},
    )
    early = await server.poll(started["device_code"], "acme")  # the clock has not moved
    assert early.json() == {"error": "slow_down", "error_description": "Forbidden"}
    decided = await server.decide(started["user_code"], credentials=CAROL)
    assert decided.status_code == 200, decided.text
    server.clock.advance(started["interval"] + 5)
    issued = await server.poll(started["device_code"], "acme")
    assert issued.status_code == 200, issued.text
    refresh_token = issued.json()["refresh_token"]
    for _ in range(2):  # reusable rotation: the same refresh token works again
        refreshed = await server.client().post(
            "/acme/oauth2/v2.0/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": CLIENT_ID,
            },
        )
        assert refreshed.status_code == 200, refreshed.text


async def test_rfc_tenant_of_the_same_app_keeps_its_own_bodies(server: Harness) -> None:
    # Both dialects' error bodies are encoded once per endpoint: the cache tells them apart.
    acme = await server.authorize("acme")
    contoso = await server.authorize("contoso")
    assert "verification_uri_complete" in contoso
    ours = (await server.poll(acme["device_code"], "acme")).json()
    theirs = (await server.poll(contoso["device_code"], "contoso")).json()
    assert ours["error_description"] == "Precondition Required"
    assert theirs == {
        "error": "authorization_pending",
        "error_description": "the user has not yet finished",
    }


async def test_third_dialect_maps_reasons_to_its_own_codes(server: Harness) -> None:
    device = server.client()
    locked = await device.post(
        "/locked/oauth2/v2.0/devicecode", data={"client_id": CLIENT_ID, "scope": "openid"}
    )
    assert locked.json() == {"error": "admin_policy_enforced", "error_description": "Forbidden"}
    unknown = await device.post("/acme/oauth2/v2.0/devicecode", data={"client_id": "nobody"})
    assert unknown.json() == {
        "error": "invalid_client",
        "error_description": "The OAuth client was not found.",
    }
    started = await server.authorize("acme")
    denied = await server.decide(started["user_code"], "deny", credentials=CAROL)
    assert denied.status_code == 200, denied.text
    answer = await device.post(
        "/acme/oauth2/v2.0/token",
        data={
            "grant_type": DEVICE_GRANT,
            "device_code": started["device_code"],
            "client_id": CLIENT_ID,
        },
    )
    assert answer.json() == {"error": "access_denied", "error_description": "Forbidden"}
