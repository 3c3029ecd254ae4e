"""Small pieces of the web layer: dialects, sessions, permissions, forms, access log."""

from __future__ import annotations

import dataclasses
import logging
import secrets
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import Router

from deviceflow.server.app import create_app, session_key
from deviceflow.server.dialects import dialect_named, dialect_names, register, registered
from deviceflow.server.dialects.microsoft import MicrosoftDialect
from deviceflow.server.dialects.rfc8628 import Rfc8628Dialect
from deviceflow.server.endpoints._http import FormError, parse_form
from deviceflow.server.endpoints.session import SessionCodec
from deviceflow.server.pages.permissions import describe_scopes
from deviceflow.server.settings import Settings
from deviceflow.server.storage import open_storage
from tests.support.app_harness import Harness, running
from tests.support.clock import FakeClock


def test_registry_knows_the_built_in_dialects_by_name() -> None:
    assert dialect_names()[:2] == ("rfc8628", "microsoft")
    assert isinstance(dialect_named("rfc8628"), Rfc8628Dialect)
    assert isinstance(dialect_named("microsoft"), MicrosoftDialect)
    assert registered()["microsoft"] is dialect_named("microsoft")
    with pytest.raises(ValueError, match="unknown dialect"):
        dialect_named("v1")
    with pytest.raises(ValueError, match="already registered"):
        register(MicrosoftDialect())  # another instance may not take a registered name
    assert register(dialect_named("rfc8628")) is dialect_named("rfc8628")  # the same: a no-op


def test_microsoft_error_body_maps_the_reason_to_aadsts() -> None:
    # Without per-request facts (no Wire) only the first three members; Microsoft's wording.
    # The RFC error differs by dialect: the engine says unauthorized_client, Entra invalid_grant.
    body = MicrosoftDialect().error_body(
        "unauthorized_client", "Blocked.", reason="device_flow_blocked"
    )
    assert body == {
        "error": "invalid_grant",
        "error_description": "AADSTS53003: Access has been blocked by Conditional Access"
        " policies. The access policy does not allow token issuance.",
        "error_codes": [53003],
    }
    reused = MicrosoftDialect().error_body("invalid_grant", "used", reason="refresh_reused")
    assert reused["error_codes"] == [50173]
    unknown = MicrosoftDialect().error_body("invalid_grant", "odd thing")
    assert unknown["error_description"] == "AADSTS70000: Odd thing."
    plain = Rfc8628Dialect().error_body("unauthorized_client", "Blocked.", reason="denied")
    assert plain == {"error": "unauthorized_client", "error_description": "Blocked."}


def test_session_codec_round_trip_and_refusals() -> None:
    clock = FakeClock()
    codec = SessionCodec(b"k" * 32, clock=clock, rng=secrets.token_bytes)
    session = codec.signed_in(codec.new(), "user-1", "contoso")
    cookie = codec.dump(session)
    assert codec.load(cookie) == session
    assert codec.load(None) is None
    assert codec.load("no-dot") is None
    assert codec.load(cookie[:-2] + "AA") is None
    other = SessionCodec(b"x" * 32, clock=clock, rng=secrets.token_bytes)
    assert other.load(cookie) is None
    assert not codec.check_csrf(session, None)
    assert not codec.check_csrf(session, other.csrf_token(session))
    assert codec.check_csrf(session, codec.csrf_token(session))
    clock.advance(3601)
    assert codec.load(cookie) is None


def test_session_rotation_keeps_the_label_of_the_wrong_code_bucket() -> None:
    codec = SessionCodec(b"k" * 32, clock=FakeClock(), rng=secrets.token_bytes)
    first = codec.new()
    signed = codec.signed_in(first, "user-1", "contoso")
    out = codec.signed_out(signed)
    assert len({first.sid, signed.sid, out.sid}) == 3
    assert len({codec.csrf_token(s) for s in (first, signed, out)}) == 3
    assert (out.user_id, out.tenant_id) == (None, None)
    # One browser, one per-session bucket of wrong user codes, whatever it signs in or out of.
    assert codec.fingerprint(first) == codec.fingerprint(signed) == codec.fingerprint(out)
    assert codec.load(codec.dump(out)) == out


def test_session_codec_refuses_wrong_shapes() -> None:
    import base64
    import hashlib
    import hmac

    codec = SessionCodec(b"k" * 32, clock=FakeClock(), rng=secrets.token_bytes)

    def signed(payload: bytes) -> str:
        mac = hmac.new(b"k" * 32, b"session|" + payload, hashlib.sha256).digest()
        encode = base64.urlsafe_b64encode
        return encode(payload).rstrip(b"=").decode() + "." + encode(mac).rstrip(b"=").decode()

    assert codec.load(signed(b"[1, 2]")) is None
    assert codec.load(signed(b'{"s": 1, "t": 2}')) is None


def test_permissions_in_plain_words() -> None:
    lines = describe_scopes(
        ["https://graph.microsoft.com/User.Read", "User.Read", ".default", "X.Y"]
    )
    assert lines == [
        "Read your profile",
        "Use every permission an administrator has granted this application",
        "Use the permission \u201cX.Y\u201d",
    ]
    assert describe_scopes([]) == ["Sign you in"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\xff", id="not-utf8"),
        pytest.param(b"a=%ff", id="bad-escape"),
        pytest.param(b"a=1&a=2", id="repeated"),
        pytest.param(b"a=" + b"x" * 70_000, id="too-large"),
    ],
)
def test_parse_form_refuses(body: bytes) -> None:
    with pytest.raises(FormError):
        parse_form(body)


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.sampled_from(["urn:ietf:params:oauth:grant-type:device_code", "a b+c", ""])
        | st.text(max_size=24),
        max_size=6,
    )
)
def test_parse_form_reads_what_the_standard_library_reads(form: dict[str, str]) -> None:
    # The hand-written parser (and its table of pre-decoded values) must agree with
    # ``parse_qsl`` on every well-formed form, however a client escapes it.
    for body in (urlencode(form), urlencode(form, quote_via=quote)):  # "+" or "%20" for space
        expected = dict(parse_qsl(body, keep_blank_values=True, errors="strict"))
        assert parse_form(body.encode()) == expected == form


def test_session_key_from_secret_key_and_from_storage() -> None:
    storage = open_storage("memory:")
    settings = Settings.development()
    stored = session_key(settings, storage, secrets.token_bytes)
    assert session_key(settings, storage, secrets.token_bytes) == stored
    configured = dataclasses.replace(settings, secret_key="Zq7v0dXk2mW9pL4sR8tB1nC6yH3jF5gA")
    assert session_key(configured, storage, secrets.token_bytes) != stored


@pytest.mark.anyio
async def test_access_log_omits_query_strings(
    server: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="deviceflow.server.access"):
        await server.client().get("/devicelogin", params={"code": "BCDF-GHJK"})
    assert "GET /devicelogin 200" in caplog.text  # the code form, pre-filled
    assert "BCDF" not in caplog.text


@pytest.mark.anyio
async def test_token_polls_skip_the_router_and_are_still_access_logged(
    server: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    routed: list[str] = []
    route = Router.__call__

    async def spy(self: Router, scope: Any, receive: Any, send: Any) -> None:
        routed.append(scope["path"])
        await route(self, scope, receive, send)

    monkeypatch.setattr(Router, "__call__", spy)
    started = await server.authorize()
    assert routed == ["/contoso/oauth2/v2.0/devicecode"]
    with caplog.at_level(logging.INFO, logger="deviceflow.server.access"):
        response = await server.poll("not-a-device-code")  # not routine: its own line
        assert response.json()["error"] == "invalid_grant"
        response = await server.poll(started["device_code"])
    assert response.json()["error"] == "authorization_pending"
    assert "POST /contoso/oauth2/v2.0/token 400" in caplog.text  # the same line as elsewhere
    caplog.clear()
    server.clock.advance(started["interval"])
    response = await server.poll(started["device_code"])  # the access log is off again
    assert response.json()["error"] == "authorization_pending"
    assert "oauth2/v2.0/token" not in caplog.text
    assert routed == ["/contoso/oauth2/v2.0/devicecode"]  # neither poll went to the router


@pytest.mark.anyio
async def test_pending_polls_are_summarised_not_logged_one_by_one(
    server: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    started = await server.authorize()
    with caplog.at_level(logging.INFO, logger="deviceflow.server.access"):
        for _ in range(3):
            response = await server.poll(started["device_code"])
            assert response.json()["error"] == "authorization_pending"
            server.clock.advance(started["interval"])
        assert "oauth2/v2.0/token" not in caplog.text
        server.app.state.polls.flush()  # what the timer (or the app's end) does
        server.app.state.polls.flush()  # nothing counted since: no line
    lines = [r.getMessage() for r in caplog.records if r.name == "deviceflow.server.access"]
    assert lines == [
        f"token polls (10 s): tenant contoso, client {server.client_id}:"
        " 3 authorization_pending, 0 slow_down"
    ]


@pytest.mark.anyio
async def test_slow_down_answers_are_summarised_and_debug_logs_every_poll(
    server_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = dataclasses.replace(server_settings.tenants[0], dialect="rfc8628")
    settings = dataclasses.replace(server_settings, tenants=(tenant, *server_settings.tenants[1:]))
    async with running(settings) as server:
        started = await server.authorize()
        with caplog.at_level(logging.INFO, logger="deviceflow.server.access"):
            await server.poll(started["device_code"])
            response = await server.poll(started["device_code"])  # at once: too early
            assert response.json()["error"] == "slow_down"
            server.app.state.polls.flush()
        summary = f"tenant contoso, client {server.client_id}: 1 authorization_pending, 1 slow_down"
        assert summary in caplog.text
        assert "oauth2/v2.0/token" not in caplog.text
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="deviceflow.server.access"):
            await server.poll(started["device_code"])
        assert "POST /contoso/oauth2/v2.0/token 400" in caplog.text


@pytest.mark.anyio
async def test_a_token_request_with_a_query_takes_the_usual_layers(server: Harness) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"grant_type=x", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/contoso/oauth2/v2.0/token", "root_path": "",
        "query_string": b"\x80", "scheme": "http", "http_version": "1.1",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip
    await server.app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert b"query is not UTF-8" in sent[1]["body"]


def test_create_app_works_without_public_url() -> None:
    settings = dataclasses.replace(Settings.development(), public_url=None)
    app = create_app(
        settings, storage=open_storage("memory:"), clock=FakeClock(), rng=secrets.token_bytes
    )
    assert (
        app.state.ctx.base_url({"headers": [(b"host", b"h:1")], "scheme": "http"}) == "http://h:1"
    )
