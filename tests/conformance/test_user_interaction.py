"""RFC 8628 §3.3 (User Interaction), §3.3.1 (Non-Textual Verification URI) and §5.4/§5.5."""

from __future__ import annotations

import pytest

from tests.support.app_harness import Harness
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio


@pytest.mark.spec("RFC8628", "3.3")
async def test_user_authenticates_then_approves(server: Harness) -> None:
    started = await server.authorize()
    browser = server.client()
    entered = await server.enter_code(browser, started["user_code"])
    assert 'type="password"' in entered.text
    result = await server.decide(started["user_code"])
    assert "Device approved" in result.text


@pytest.mark.spec("RFC8628", "3.3")
@pytest.mark.parametrize(
    "transform", [str.lower, lambda c: c.replace("-", ""), lambda c: c.replace("-", " ")]
)
async def test_user_code_entry_ignores_case_and_separators(
    server: Harness, transform: object
) -> None:
    started = await server.authorize()
    assert callable(transform)
    response = await server.enter_code(server.client(), transform(started["user_code"]))
    assert response.status_code == 200
    assert ">Sign in</button>" in response.text


@pytest.mark.spec("RFC8628", "3.3.1")
async def test_complete_uri_still_shows_the_user_code_to_compare(server: Harness) -> None:
    started = await server.authorize()
    browser = server.client()
    path = started["verification_uri_complete"].removeprefix("http://testserver")
    signin = await browser.get(path)
    confirm = await server.sign_in(browser, signin, started["user_code"])
    assert started["user_code"] in confirm.text
    assert "Your device should show this code" in confirm.text


@pytest.mark.spec("RFC8628", "5.4")
async def test_confirm_page_warns_and_shows_the_requesting_device(server: Harness) -> None:
    started = await server.authorize(ip="127.0.0.1")
    browser = server.client("192.0.2.10")
    entered = await server.enter_code(browser, started["user_code"])
    confirm = await server.sign_in(browser, entered, started["user_code"])
    assert "device that is in front of you" in confirm.text
    assert "127.0.0.1" in confirm.text


@pytest.mark.spec("RFC8628", "5.5")
async def test_a_code_is_approved_only_once(server: Harness) -> None:
    started = await server.authorize()
    await server.decide(started["user_code"])
    browser = server.client()
    response = await server.enter_code(browser, started["user_code"])
    assert response.status_code == 409


@pytest.mark.spec("RFC8628", "5.1")
async def test_wrong_codes_are_limited_per_ip(server: Harness) -> None:
    started = await server.authorize()
    browser = server.client("198.51.100.7")
    page = await browser.get("/devicelogin")
    token = csrf_of(page.text)
    statuses = [
        (
            await browser.post("/devicelogin", data={"csrf_token": token, "code": "ZZZZ-ZZZZ"})
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [404] * 5
    locked = await browser.post(
        "/devicelogin", data={"csrf_token": token, "code": started["user_code"]}
    )
    assert locked.status_code == 429


@pytest.mark.spec("RFC8628", "5.1")
async def test_wrong_codes_are_limited_per_browser_session(server: Harness) -> None:
    started = await server.authorize()
    browser = server.client("198.51.100.8")
    page = await browser.get("/devicelogin")
    token = csrf_of(page.text)
    for n in range(5):
        # A rotating-IP attacker keeps the same browser session cookie.
        hopper = server.client(f"203.0.113.{n + 1}")
        hopper.cookies = browser.cookies
        await hopper.post("/devicelogin", data={"csrf_token": token, "code": "ZZZZ-ZZZZ"})
    other_ip = server.client("203.0.113.99")
    other_ip.cookies = browser.cookies
    locked = await other_ip.post(
        "/devicelogin", data={"csrf_token": token, "code": started["user_code"]}
    )
    assert locked.status_code == 429
