"""Server under abuse: replays, decisions out of order, and forged forms (checklist 6, 8, 9,
11, 15, 18).

A replayed device code or a reused rotated refresh token revokes the whole sign-in family: the
tokens the legitimate party holds stop working too (RFC 9700 §4.14.2), and introspection says
so. A denied code cannot be approved; an expired one cannot be approved or redeemed. Every form
post needs the CSRF token of its own session cookie.
"""

from __future__ import annotations

import pytest

from tests.hardening import figures
from tests.hardening.server.harness import GuardedHarness
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio


async def test_replayed_device_code_revokes_the_first_tokens(server: GuardedHarness) -> None:
    started = await server.authorize()
    assert (await server.approve(started["user_code"])).status_code == 200
    server.clock.advance(5)
    first = (await server.poll(started["device_code"])).json()
    assert (await server.introspect(first["access_token"]))["active"] is True
    replays = [await server.poll(started["device_code"]) for _ in range(3)]
    assert {r.json()["error"] for r in replays} == {"invalid_grant"}
    assert (await server.introspect(first["access_token"])) == {"active": False}
    assert (await server.introspect(first["refresh_token"])) == {"active": False}
    refreshed = await server.refresh(first["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"
    me = await server.client().get(
        "/v1.0/me", headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    assert me.status_code == 401
    figures.record(
        "Server under abuse",
        "replay of a redeemed device code",
        replays=len(replays),
        refused=len(replays),
        first_tokens_revoked=1,
    )


async def test_reused_rotated_refresh_token_revokes_the_family(server: GuardedHarness) -> None:
    first = await server.tokens()
    second = (await server.refresh(first["refresh_token"])).json()
    third = (await server.refresh(second["refresh_token"])).json()
    assert "access_token" in third
    reuse = await server.refresh(first["refresh_token"])  # the attacker's stolen copy
    assert reuse.json()["error"] == "invalid_grant"
    # The family is gone: the legitimate holder's newest tokens fail as well.
    assert (await server.refresh(third["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await server.introspect(third["access_token"])) == {"active": False}
    assert (await server.introspect(third["refresh_token"])) == {"active": False}
    figures.record(
        "Server under abuse",
        "reuse of a rotated refresh token (strict rotation)",
        reuses=1,
        refused=1,
        family_tokens_revoked=2,
    )


async def test_deny_then_approve_is_refused(server: GuardedHarness) -> None:
    started = await server.authorize()
    assert (await server.approve(started["user_code"], decision="deny")).status_code == 200
    again = await server.approve_after_entry(started["user_code"])
    assert again.status_code == 409 and "already been used" in again.text
    server.clock.advance(5)
    assert (await server.poll(started["device_code"])).json()["error"] == "access_denied"


async def test_approve_in_an_open_page_after_deny_is_refused(server: GuardedHarness) -> None:
    started = await server.authorize()
    browser, confirm = await server.confirm_page(started["user_code"])
    assert (await server.approve(started["user_code"], decision="deny")).status_code == 200
    late = await browser.post(
        "/devicelogin/decide",
        data={"csrf_token": csrf_of(confirm.text), "code": started["user_code"],
              "decision": "approve"},
    )  # fmt: skip
    assert late.status_code == 409
    server.clock.advance(5)
    assert (await server.poll(started["device_code"])).json()["error"] == "access_denied"


async def test_approve_after_expiry_is_refused(server: GuardedHarness) -> None:
    started = await server.authorize()
    browser, confirm = await server.confirm_page(started["user_code"])
    assert confirm.status_code == 200
    server.clock.advance(started["expires_in"] + 1)
    late = await browser.post(
        "/devicelogin/decide",
        data={"csrf_token": csrf_of(confirm.text), "code": started["user_code"],
              "decision": "approve"},
    )  # fmt: skip
    assert late.status_code == 410 and "expired" in late.text
    assert (await server.poll(started["device_code"])).json()["error"] == "expired_token"


@pytest.mark.parametrize(
    "path", ["/devicelogin", "/devicelogin/signin", "/devicelogin/decide", "/presence"]
)
@pytest.mark.parametrize("token", ["missing", "forged", "other-session"])
async def test_form_posts_without_their_csrf_token_are_refused(
    server: GuardedHarness, path: str, token: str
) -> None:
    started = await server.authorize()
    browser, confirm = await server.confirm_page(started["user_code"])
    assert confirm.status_code == 200
    form = {
        "code": started["user_code"],
        "decision": "approve",
        "username": "alice",
        "password": "alice-hardening-pw",
        "availability": "Busy",
        "activity": "Busy",
    }
    if token == "forged":
        form["csrf_token"] = csrf_of(confirm.text)[:-4] + "AAAA"
    elif token == "other-session":
        other = server.client()
        form["csrf_token"] = csrf_of((await other.get("/devicelogin")).text)
    response = await browser.post(path, data=form)
    assert response.status_code == 403
    server.clock.advance(5)
    assert (await server.poll(started["device_code"])).json()["error"] == "authorization_pending"
