"""The verification pages as a test walks them without a browser: CSRF tokens and one approval.

Every form of ``/devicelogin`` carries a hidden ``csrf_token``; :func:`csrf_of` reads it back so
the next post is accepted exactly as a browser's would be. :func:`approve_over_http` plays the
person against a real server (enter the code, sign in, approve or deny) over plain HTTP.
"""

from __future__ import annotations

import re
import ssl

import httpx

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    match = CSRF_FIELD.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def approve_over_http(
    base_url: str,
    user_code: str,
    *,
    username: str,
    password: str,
    decision: str = "approve",
    timeout: float = 10,
    require_pages: bool = False,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Response:
    """Enter ``user_code`` on the verification pages, sign in and decide.

    Returns the first answer that is not a 200 on the way (the code page or the sign-in page),
    else the answer to the decision. With ``require_pages`` a refused step fails the test
    instead of being returned.
    """
    with httpx.Client(base_url=base_url, timeout=timeout, verify=verify) as browser:
        page = browser.get("/devicelogin")
        entered = browser.post(
            "/devicelogin", data={"csrf_token": csrf_of(page.text), "code": user_code}
        )
        assert not require_pages or entered.status_code == 200, entered.status_code
        if entered.status_code != 200:
            return entered
        confirm = browser.post(
            "/devicelogin/signin",
            data={"csrf_token": csrf_of(entered.text), "code": user_code,
                  "username": username, "password": password},
        )  # fmt: skip
        assert not require_pages or confirm.status_code == 200, confirm.status_code
        if confirm.status_code != 200:
            return confirm
        return browser.post(
            "/devicelogin/decide",
            data={"csrf_token": csrf_of(confirm.text), "code": user_code, "decision": decision},
        )
