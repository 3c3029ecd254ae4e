"""The pages' browser session in process: rotation at sign-in and sign-out, re-authentication
before another approval, and the logout endpoint discovery advertises."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from deviceflow.server.endpoints.context import ServerContext
from deviceflow.server.endpoints.session import COOKIE_NAME, Session
from deviceflow.server.settings import Settings
from tests.support.app_harness import ALICE, CLIENT_ID, CONFIG, Harness, running
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


async def signed_in_browser(server: Harness) -> httpx.AsyncClient:
    """A browser signed in on the presence page as Alice."""
    browser = server.client()
    page = await browser.get("/presence")
    form = {"csrf_token": csrf_of(page.text), "username": ALICE[0], "password": ALICE[1]}
    assert "Your presence" in (await browser.post("/presence/signin", data=form)).text
    return browser


@pytest.mark.parametrize(
    "document",
    [
        pytest.param("/fabrikam/v2.0/.well-known/openid-configuration", id="v2"),
        pytest.param("/fabrikam/.well-known/openid-configuration", id="v1"),
    ],
)
async def test_the_advertised_end_session_endpoint_signs_the_browser_out(
    server: Harness, document: str
) -> None:
    browser = await signed_in_browser(server)
    before = session_of(server, browser)
    metadata = (await browser.get(document)).json()
    endpoint = metadata["end_session_endpoint"].removeprefix("http://testserver")
    asked = await browser.get(endpoint)  # a GET changes nothing: it asks
    assert asked.status_code == 200
    assert ">Sign out</button>" in asked.text
    assert session_of(server, browser) == before
    done = await browser.post(endpoint, data={"csrf_token": csrf_of(asked.text)})
    assert done.status_code == 200
    assert "You have signed out" in done.text
    after = session_of(server, browser)
    assert after.user_id is None and after.sid != before.sid
    assert ">Sign in</button>" in (await browser.get("/presence")).text
    # Without the CSRF token of the session (a form on another site), nobody is signed out.
    browser = await signed_in_browser(server)
    refused = await browser.post(endpoint, data={})
    assert refused.status_code == 403
    assert "Your presence" in (await browser.get("/presence")).text


@pytest.fixture
async def with_logout_uri(anyio_backend: str) -> AsyncIterator[Harness]:
    clients = [
        {**CONFIG["clients"][0], "post_logout_redirect_uris": ["https://lamp.example/bye"]},
        *CONFIG["clients"][1:],
    ]
    async with running(Settings.from_mapping({**CONFIG, "clients": clients})) as harness:
        yield harness


@pytest.mark.parametrize(
    ("query", "redirected"),
    [
        pytest.param(
            {"post_logout_redirect_uri": "https://lamp.example/bye", "client_id": CLIENT_ID},
            "https://lamp.example/bye?state=s-1",
            id="registered",
        ),
        pytest.param(
            {"post_logout_redirect_uri": "https://evil.example/", "client_id": CLIENT_ID},
            None,
            id="not registered",
        ),
        pytest.param(
            {"post_logout_redirect_uri": "https://lamp.example/bye"}, None, id="no client_id"
        ),
        pytest.param(
            {"post_logout_redirect_uri": "https://lamp.example/bye", "client_id": "no-device"},
            None,
            id="another client's",
        ),
    ],
)
async def test_logout_redirects_only_to_a_uri_the_client_registered(
    with_logout_uri: Harness, query: dict[str, str], redirected: str | None
) -> None:
    server = with_logout_uri
    endpoint = "/contoso/oauth2/v2.0/logout"
    params = {**query, "state": "s-1"}
    # Not signed in: nothing to sign out.
    idle = await server.client().get(endpoint, params=params)
    browser = await signed_in_browser(server)
    asked = await browser.get(endpoint, params=params)
    done = await browser.post(
        str(asked.url.copy_with(query=None)),
        data={"csrf_token": csrf_of(asked.text), **params},
    )
    assert session_of(server, browser).user_id is None
    for answer in (idle, done):
        if redirected is None:
            assert answer.status_code == 200
            assert "You have signed out" in answer.text
            assert "evil.example" not in answer.headers.get("location", "")
        else:
            assert answer.status_code == 303
            assert answer.headers["location"] == redirected
