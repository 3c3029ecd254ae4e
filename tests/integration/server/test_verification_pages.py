"""The verification pages in process: enter code, sign in, confirm, result, and refusals."""

from __future__ import annotations

import re

import pytest

from tests.support.app_harness import ALICE, BOB, CLIENT_NAME, Harness
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_enter_code_page_has_fields_headers_and_cookie(server: Harness) -> None:
    response = await server.client().get("/devicelogin")
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert '<label for="code">Code</label>' in response.text
    assert ">Next</button>" in response.text
    assert "<script" not in response.text


async def test_post_without_csrf_token_is_refused(server: Harness) -> None:
    browser = server.client()
    await browser.get("/devicelogin")
    response = await browser.post("/devicelogin", data={"code": "BCDF-GHJK"})
    assert response.status_code == 403
    assert "did not come from this site" in response.text


async def test_post_without_session_cookie_is_refused(server: Harness) -> None:
    page = await server.client().get("/devicelogin")
    stranger = server.client()
    response = await stranger.post(
        "/devicelogin", data={"code": "BCDF-GHJK", "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 403


async def test_forged_session_cookie_is_ignored(server: Harness) -> None:
    browser = server.client()
    page = await browser.get("/devicelogin")
    browser.cookies.clear()
    browser.cookies.set("deviceflow_session", "e30.AAAA")
    response = await browser.post(
        "/devicelogin", data={"code": "BCDF-GHJK", "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 403


async def test_empty_code_asks_again(server: Harness) -> None:
    browser = server.client()
    page = await browser.get("/devicelogin")
    response = await browser.post("/devicelogin", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 400
    assert "Enter a code." in response.text


async def test_confirm_page_shows_everything_the_user_must_check(server: Harness) -> None:
    started = await server.authorize(ip="127.0.0.1")
    browser = server.client()
    entered = await server.enter_code(browser, started["user_code"].lower().replace("-", " "))
    assert entered.status_code == 200
    assert 'for="username">Username</label>' in entered.text
    assert 'for="password">Password</label>' in entered.text
    confirm = await server.sign_in(browser, entered, started["user_code"])
    assert confirm.status_code == 200
    text = _text(confirm.text)
    assert "Desk Lamp &lt;script&gt;alert(1)&lt;/script&gt;" in confirm.text
    assert CLIENT_NAME not in confirm.text  # escaped, never raw
    assert started["user_code"] in text
    assert "127.0.0.1" in text
    assert "Read your profile" in text and "Keep access until you revoke it" in text
    assert "Only continue if you started this sign-in on a device that is in front of you" in text
    assert 'value="approve">Approve</button>' in confirm.text
    assert 'value="deny">Deny</button>' in confirm.text
    assert "UTC" in text


async def test_approve_shows_result_and_device_gets_tokens(server: Harness) -> None:
    started = await server.authorize()
    result = await server.decide(started["user_code"])
    assert result.status_code == 200
    assert "Device approved" in result.text
    server.clock.advance(started["interval"])
    response = await server.poll(started["device_code"])
    assert response.status_code == 200
    assert response.json()["token_type"].lower() == "bearer"


async def test_deny_shows_result_and_device_gets_access_denied(server: Harness) -> None:
    started = await server.authorize()
    result = await server.decide(started["user_code"], "deny")
    assert result.status_code == 200
    assert "Access denied" in result.text
    server.clock.advance(started["interval"])
    response = await server.poll(started["device_code"])
    assert response.status_code == 400
    assert response.json()["error"] == "access_denied"


async def test_wrong_password_shows_sign_in_again(server: Harness) -> None:
    started = await server.authorize()
    browser = server.client()
    entered = await server.enter_code(browser, started["user_code"])
    again = await server.sign_in(browser, entered, started["user_code"], (ALICE[0], "nope"))
    assert again.status_code == 200
    assert "username or password is not right" in again.text
    assert 'value="alice"' in again.text


async def test_user_of_another_tenant_cannot_sign_in(server: Harness) -> None:
    started = await server.authorize("contoso")
    browser = server.client()
    entered = await server.enter_code(browser, started["user_code"])
    again = await server.sign_in(browser, entered, started["user_code"], BOB)
    assert "username or password is not right" in again.text


async def test_decide_without_sign_in_asks_to_sign_in(server: Harness) -> None:
    started = await server.authorize()
    browser = server.client()
    entered = await server.enter_code(browser, started["user_code"])
    response = await browser.post(
        "/devicelogin/decide",
        data={
            "csrf_token": csrf_of(entered.text),
            "code": started["user_code"],
            "decision": "approve",
        },
    )
    assert "Please sign in to continue." in response.text


async def test_unknown_code_page(server: Harness) -> None:
    response = await server.enter_code(server.client(), "BCDF-GHJK")
    assert response.status_code == 404
    assert "Code not recognised" in response.text


async def test_expired_code_page(server: Harness) -> None:
    started = await server.authorize()
    server.clock.advance(started["expires_in"] + 1)
    response = await server.enter_code(server.client(), started["user_code"])
    assert response.status_code == 410
    assert "Code expired" in response.text


async def test_used_code_page_and_no_second_decision(server: Harness) -> None:
    started = await server.authorize()
    await server.decide(started["user_code"])
    response = await server.enter_code(server.client(), started["user_code"])
    assert response.status_code == 409
    assert "already been used" in response.text


async def test_second_decision_in_open_confirm_page_is_refused(server: Harness) -> None:
    started = await server.authorize()
    code = started["user_code"]
    browser = server.client()
    entered = await server.enter_code(browser, code)
    confirm = await server.sign_in(browser, entered, code)
    first = await browser.post(
        "/devicelogin/decide",
        data={"csrf_token": csrf_of(confirm.text), "code": code, "decision": "deny"},
    )
    assert "Access denied" in first.text
    second = await browser.post(
        "/devicelogin/decide",
        data={"csrf_token": csrf_of(confirm.text), "code": code, "decision": "approve"},
    )
    assert second.status_code == 409
    server.clock.advance(started["interval"])
    assert (await server.poll(started["device_code"])).json()["error"] == "access_denied"


async def test_complete_uri_prefills_the_code_form(server: Harness) -> None:
    started = await server.authorize()
    path = started["verification_uri_complete"].removeprefix("http://testserver")
    browser = server.client()
    page = await browser.get(path)
    assert page.status_code == 200
    assert f'value="{started["user_code"]}"' in page.text and ">Next</button>" in page.text
    entered = await browser.post(
        "/devicelogin", data={"csrf_token": csrf_of(page.text), "code": started["user_code"]}
    )
    assert entered.status_code == 200
    assert ">Sign in</button>" in entered.text


async def test_complete_uri_gets_count_no_wrong_code(server: Harness) -> None:
    # Six image tags on any web page would otherwise lock the victim's address out: a GET only
    # pre-fills the form, and only the CSRF-checked POST looks the code up and counts it.
    started = await server.authorize()
    browser = server.client("10.3.3.3")
    for _ in range(6):
        page = await browser.get("/devicelogin", params={"code": "BCDF-GHJK"})
        assert page.status_code == 200
        assert 'value="BCDF-GHJK"' in page.text
    entered = await browser.post(
        "/devicelogin", data={"csrf_token": csrf_of(page.text), "code": started["user_code"]}
    )
    assert entered.status_code == 200
    assert ">Sign in</button>" in entered.text
    wrong = await browser.post(
        "/devicelogin", data={"csrf_token": csrf_of(page.text), "code": "BCDF-GHJK"}
    )
    assert wrong.status_code == 404


async def test_sixth_attempt_is_refused_even_with_the_right_code(server: Harness) -> None:
    started = await server.authorize()
    browser = server.client("10.1.1.1")
    page = await browser.get("/devicelogin")
    token = csrf_of(page.text)
    for _ in range(5):
        wrong = await browser.post("/devicelogin", data={"csrf_token": token, "code": "BCDF-GHJK"})
        assert wrong.status_code == 404
    locked = await browser.post(
        "/devicelogin", data={"csrf_token": token, "code": started["user_code"]}
    )
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Too many attempts" in locked.text and "try again after" in locked.text
    other = await server.enter_code(server.client("10.2.2.2"), started["user_code"])
    assert other.status_code == 200
