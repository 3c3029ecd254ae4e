"""Helpers for the hardening tests that drive a real ``deviceflow serve`` on 127.0.0.1.

The server is :class:`tests.support.serverproc.ServerProcess` (any database URL, SIGKILL);
:func:`approve` walks the verification pages over HTTP (no browser) as the e2e user;
:func:`verify_with_jwks` checks an access token's RS256 signature against the published keys.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.pages import approve_over_http
from tests.support.serverproc import CLIENT_ID, DEVICE_GRANT, PASSWORD, USERNAME


def approve(base_url: str, user_code: str, *, decision: str = "approve") -> httpx.Response:
    """The person's side over plain HTTP: enter the code, sign in, decide."""
    return approve_over_http(
        base_url, user_code, username=USERNAME, password=PASSWORD, decision=decision
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
