"""A real ``deviceflow serve`` for the client hardening tests, and a person who approves over HTTP.

The server runs through :class:`tests.support.serverproc.ServerProcess` (a subprocess on
127.0.0.1 with SQLite) with a configuration made for fast, bounded runs: a 1 s polling interval,
short device-code and access-token lifetimes, and a chosen refresh-token rotation mode.

:func:`approve_http` plays the person: it walks the real verification pages over HTTP (enter the
code, sign in, approve or deny), posting each form's CSRF token back exactly as a browser does.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from tests.support.config import write_config
from tests.support.pages import approve_over_http
from tests.support.serverproc import CLIENT_ID, PASSWORD, USERNAME, ServerProcess

__all__ = [
    "CLIENT_ID",
    "SCOPE",
    "ServerProcess",
    "approve_http",
    "hardening_config",
    "start_server",
]

SCOPE = "openid profile offline_access User.Read"


def hardening_config(
    *, device_code_lifetime: int = 30, access_token_lifetime: int = 3600, rotation: str = "strict"
) -> dict[str, Any]:
    """A configuration with one RFC tenant (``contoso``), one client and one user."""
    return {
        "interval": 1,
        "refresh_rotation": rotation,
        "lifetimes": {
            "device_code": device_code_lifetime,
            "access_token": access_token_lifetime,
        },
        "tenants": [{"id": "contoso", "name": "Contoso", "dialect": "rfc8628"}],
        "clients": [
            {
                "client_id": CLIENT_ID,
                "name": "Hardening Lamp",
                "scopes": ["openid", "profile", "offline_access", "User.Read"],
            }
        ],
        "users": [
            {
                "username": USERNAME,
                "password": PASSWORD,
                "display_name": "Erin Example",
                "tenant": "contoso",
            }
        ],
    }


def start_server(folder: Path, **config: Any) -> ServerProcess:
    """Write a configuration (see :func:`hardening_config`) and start a server on it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_config(folder, hardening_config(**config), name="hardening-server.toml")
    server = ServerProcess(folder=folder, config=path)
    server.start()
    return server


def approve_http(
    base_url: str, user_code: str, *, deny: bool = False, verify: ssl.SSLContext | bool = True
) -> int:
    """Enter ``user_code`` on the verification pages, sign in and decide; return the status.

    ``verify``: as httpx takes it (a context trusting the CA of a ``--tls`` server).
    """
    decided = approve_over_http(
        base_url,
        user_code,
        username=USERNAME,
        password=PASSWORD,
        decision="deny" if deny else "approve",
        timeout=30,
        require_pages=True,
        verify=verify,
    )
    return decided.status_code
