"""Helpers for the hardening tests that drive a real ``deviceflow serve`` on 127.0.0.1.

:class:`HardServer` is the e2e :class:`ServerProcess` with any database URL (SQLite or
PostgreSQL) and a SIGKILL; :func:`approve` walks the verification pages over HTTP (no browser);
:func:`verify_with_jwks` checks an access token's RS256 signature against the published keys.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.e2e.server.serverproc import CLIENT_ID, DEVICE_GRANT, PASSWORD, USERNAME, ServerProcess

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class HardServer(ServerProcess):
    """A ``deviceflow serve`` subprocess (any ``db_url``) that can also be SIGKILLed."""

    def kill(self) -> None:
        """SIGKILL, as a power cut would: no shutdown code runs."""
        assert self.process is not None
        process, self.process = self.process, None
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    def log_lines(self) -> int:
        """How many lines the server printed, over all its runs (all scanned by ``leaked``)."""
        return sum(len(p.read_text(errors="replace").splitlines()) for p in self.log_files())

    def tracebacks(self) -> list[str]:
        """Log files that hold a Python traceback."""
        return [p.name for p in self.log_files() if "Traceback" in p.read_text(errors="replace")]


def csrf(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def approve(base_url: str, user_code: str, *, decision: str = "approve") -> httpx.Response:
    """The person's side over plain HTTP: enter the code, sign in, decide."""
    with httpx.Client(base_url=base_url, timeout=10) as browser:
        page = browser.get("/devicelogin")
        entered = browser.post(
            "/devicelogin", data={"csrf_token": csrf(page.text), "code": user_code}
        )
        if entered.status_code != 200:
            return entered
        confirm = browser.post(
            "/devicelogin/signin",
            data={"csrf_token": csrf(entered.text), "code": user_code,
                  "username": USERNAME, "password": PASSWORD},
        )  # fmt: skip
        if confirm.status_code != 200:
            return confirm
        return browser.post(
            "/devicelogin/decide",
            data={"csrf_token": csrf(confirm.text), "code": user_code, "decision": decision},
        )


def device_code_form(device_code: str) -> dict[str, str]:
    return {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": CLIENT_ID}


def refresh_form(refresh_token: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID}


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_with_jwks(token: str, jwks: dict[str, Any]) -> bool:
    """Whether ``token``'s RS256 signature verifies under a key of ``jwks`` (by ``kid``)."""
    head, body, signature = token.split(".")
    kid = json.loads(_b64(head)).get("kid")
    for key in jwks["keys"]:
        if key.get("kid") != kid:
            continue
        numbers = rsa.RSAPublicNumbers(
            int.from_bytes(_b64(key["e"]), "big"), int.from_bytes(_b64(key["n"]), "big")
        )
        try:
            numbers.public_key().verify(
                _b64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return False
        return True
    return False
