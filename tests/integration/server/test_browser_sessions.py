"""The pages' browser session in process: rotation at sign-in and sign-out, re-authentication
before another approval, and the logout endpoint discovery advertises."""

from __future__ import annotations

import httpx
import pytest

from deviceflow.server.endpoints.context import ServerContext
from deviceflow.server.endpoints.session import COOKIE_NAME, Session
from tests.support.app_harness import ALICE, Harness
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio


def session_of(server: Harness, browser: httpx.AsyncClient) -> Session:
    """The session the browser's cookie holds (checked by the app's own codec)."""
    ctx = server.app.state.ctx
    assert isinstance(ctx, ServerContext)
    session = ctx.sessions.load(browser.cookies.get(COOKIE_NAME))
    assert session is not None
    return session


async def test_sign_in_rotates_the_session_id_and_the_csrf_token(server: Harness) -> None:
    started = await server.authorize()
    code = started["user_code"]
    browser = server.client()
    entered = await server.enter_code(browser, code)
    before, token_before = session_of(server, browser), csrf_of(entered.text)
    confirm = await server.sign_in(browser, entered, code)
    after = session_of(server, browser)
    assert after.user_id is not None and after.sid != before.sid
    assert csrf_of(confirm.text) != token_before
    # A token learnt before the sign-in (say, from a session cookie an attacker planted) no
    # longer carries a form of the signed-in session.
    stale = await browser.post(
        "/devicelogin/decide",
        data={"csrf_token": token_before, "code": code, "decision": "approve"},
    )
    assert stale.status_code == 403
    decided = await browser.post(
        "/devicelogin/decide",
        data={"csrf_token": csrf_of(confirm.text), "code": code, "decision": "approve"},
    )
    assert "Device approved" in decided.text


async def test_presence_sign_in_rotates_the_session_id_and_the_csrf_token(
    server: Harness,
) -> None:
    browser = server.client()
    page = await browser.get("/presence")
    before = session_of(server, browser)
    form = {"csrf_token": csrf_of(page.text), "username": ALICE[0], "password": ALICE[1]}
    signed = await browser.post("/presence/signin", data=form)
    assert "Your presence" in signed.text
    assert session_of(server, browser).sid != before.sid
    assert csrf_of(signed.text) != csrf_of(page.text)
    stale = await browser.post(
        "/presence",
        data={"csrf_token": csrf_of(page.text), "availability": "Busy", "activity": "Busy"},
    )
    assert stale.status_code == 403


async def test_approving_another_device_after_the_reauth_time_asks_for_the_password(
    server: Harness,
) -> None:
    first, second, third = [await server.authorize() for _ in range(3)]
    browser = server.client()
    entered = await server.enter_code(browser, first["user_code"])
    confirm = await server.sign_in(browser, entered, first["user_code"])
    token = csrf_of(confirm.text)

    async def approve(code: str) -> httpx.Response:
        form = {"csrf_token": token, "code": code, "decision": "approve"}
        return await browser.post("/devicelogin/decide", data=form)

    assert "Device approved" in (await approve(first["user_code"])).text
    server.clock.advance(60)  # within [lifetimes] reauth (300 s): one sign-in, several devices
    assert "Device approved" in (await approve(second["user_code"])).text
    server.clock.advance(241)
    again = await approve(third["user_code"])
    assert "Please sign in again to approve this device" in again.text
    assert ">Sign in</button>" in again.text
    server.clock.advance(third["interval"])
    assert (await server.poll(third["device_code"])).json()["error"] == "authorization_pending"
    confirm = await server.sign_in(browser, again, third["user_code"])
    token = csrf_of(confirm.text)
    assert "Device approved" in (await approve(third["user_code"])).text
