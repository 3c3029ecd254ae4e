"""Headers and transport (checklist 18): security headers on every page, cookie flags, and
``Cache-Control: no-store`` on every device and token response.
"""

from __future__ import annotations

import httpx
import pytest

from tests.hardening import figures
from tests.hardening.server.harness import (
    RESOURCE_SERVER,
    GuardedHarness,
    guarded,
    hardening_settings,
)
from tests.support.pages import csrf_of

pytestmark = pytest.mark.anyio


def assert_page_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["content-type"].startswith("text/html")
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src" not in csp  # no script source at all: inline scripts never run
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


async def every_page(server: GuardedHarness) -> dict[str, httpx.Response]:
    """One response of each page the server renders."""
    started = await server.authorize()
    browser = server.client()
    pages = {"enter code": await browser.get("/devicelogin")}
    pages["sign in"] = await server.enter_code(browser, started["user_code"])
    pages["confirm"] = await server.sign_in(browser, pages["sign in"], started["user_code"])
    pages["result"] = await browser.post(
        "/devicelogin/decide",
        data={
            "csrf_token": csrf_of(pages["confirm"].text),
            "code": started["user_code"],
            "decision": "deny",
        },
    )
    pages["used"] = await server.enter_code(server.client(), started["user_code"])
    pages["complete uri, pre-filled"] = await browser.get("/devicelogin?code=BCDF-GHJK")
    pages["forbidden"] = await browser.post("/devicelogin", data={"code": "x"})
    guesser = server.client("203.0.113.5")
    for _ in range(6):
        pages["rate limited"] = await server.enter_code(guesser, "BCDF-BCDF")
    pages["not found"] = await browser.get("/nowhere", headers={"accept": "text/html"})
    pages["presence"] = await browser.get("/presence")
    return pages


async def test_every_page_carries_the_security_headers(server: GuardedHarness) -> None:
    pages = await every_page(server)
    assert pages["rate limited"].status_code == 429
    assert pages["forbidden"].status_code == 403
    for name, response in pages.items():
        try:
            assert_page_headers(response)
        except (AssertionError, KeyError) as exc:
            raise AssertionError(f"{name}: {exc!r}") from exc
    figures.record(
        "Headers and transport", "pages with CSP, frame-ancestors, XFO, referrer policy",
        pages=len(pages), missing=0,
    )  # fmt: skip


async def test_device_and_token_responses_are_never_cached(server: GuardedHarness) -> None:
    device = server.client()
    started = await device.post(
        "/contoso/oauth2/v2.0/devicecode", data={"client_id": "hardening-lamp"}
    )
    error = await device.post("/contoso/oauth2/v2.0/token", data={"grant_type": "x"})
    tokens_response = await device.post(
        "/contoso/oauth2/v2.0/introspect", data={"token": "x"}, auth=RESOURCE_SERVER
    )
    for response in (started, error, tokens_response):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"


def cookie_attributes(response: httpx.Response) -> str:
    values = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(values) == 1, values
    return values[0].lower()


async def test_session_cookie_is_httponly_and_samesite_without_tls(server: GuardedHarness) -> None:
    attributes = cookie_attributes(await server.client().get("/devicelogin"))
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "secure" not in attributes.replace("deviceflow_session", "")


async def test_session_cookie_is_secure_under_tls(anyio_backend: str) -> None:
    async with guarded(hardening_settings(public_url="https://login.example")) as tls:
        browser = tls.client()
        browser.base_url = httpx.URL("https://testserver")
        attributes = cookie_attributes(await browser.get("/devicelogin"))
    assert "secure" in attributes.split("; ") and "httponly" in attributes
