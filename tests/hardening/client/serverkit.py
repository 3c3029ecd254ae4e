"""A real ``deviceflow serve`` for the client hardening tests, and a person who approves over HTTP.

The server runs through :class:`tests.e2e.server.serverproc.ServerProcess` (a subprocess on
127.0.0.1 with SQLite) with a configuration made for fast, bounded runs: a 1 s polling interval,
short device-code and access-token lifetimes, and a chosen refresh-token rotation mode.

:func:`approve_http` plays the person: it walks the real verification pages over HTTP (enter the
code, sign in, approve or deny), posting each form's CSRF token back exactly as a browser does.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import httpx

from tests.e2e.server.serverproc import CLIENT_ID, PASSWORD, USERNAME, ServerProcess

__all__ = ["CLIENT_ID", "SCOPE", "ServerProcess", "approve_http", "start_server", "write_config"]

SCOPE = "openid profile offline_access User.Read"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def write_config(
    folder: Path,
    *,
    device_code_lifetime: int = 30,
    access_token_lifetime: int = 3600,
    rotation: str = "strict",
) -> Path:
    """A configuration with one RFC tenant (``contoso``), one client and one user."""
    path = folder / "hardening-server.toml"
    path.write_text(
        f"""
interval = 1
refresh_rotation = "{rotation}"

[lifetimes]
device_code = {device_code_lifetime}
access_token = {access_token_lifetime}

[[tenants]]
id = "contoso"
name = "Contoso"
dialect = "rfc8628"

[[clients]]
client_id = "{CLIENT_ID}"
name = "Hardening Lamp"
scopes = ["openid", "profile", "offline_access", "User.Read"]

[[users]]
username = "{USERNAME}"
password = "{PASSWORD}"
display_name = "Erin Example"
tenant = "contoso"
""",
        encoding="utf-8",
    )
    return path


def start_server(folder: Path, **config: object) -> ServerProcess:
    """Write a configuration (see :func:`write_config`) and start a server on it."""
    folder.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(folder=folder, config=write_config(folder, **config))  # type: ignore[arg-type]
    server.start()
    return server


def _csrf(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def approve_http(
    base_url: str, user_code: str, *, deny: bool = False, verify: ssl.SSLContext | bool = True
) -> int:
    """Enter ``user_code`` on the verification pages, sign in and decide; return the status.

    ``verify``: as httpx takes it (a context trusting the CA of a ``--tls`` server).
    """
    with httpx.Client(base_url=base_url, timeout=30, verify=verify) as browser:
        page = browser.get("/devicelogin")
        entered = browser.post(
            "/devicelogin", data={"csrf_token": _csrf(page.text), "code": user_code}
        )
        assert entered.status_code == 200, entered.status_code
        confirm = browser.post(
            "/devicelogin/signin",
            data={
                "csrf_token": _csrf(entered.text),
                "code": user_code,
                "username": USERNAME,
                "password": PASSWORD,
            },
        )
        assert confirm.status_code == 200, confirm.status_code
        decided = browser.post(
            "/devicelogin/decide",
            data={
                "csrf_token": _csrf(confirm.text),
                "code": user_code,
                "decision": "deny" if deny else "approve",
            },
        )
        return decided.status_code
