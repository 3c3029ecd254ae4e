"""deviceflow.micro on the Unix-port MicroPython against a real ``deviceflow serve``, HTTP and TLS.

One board's life per scheme, each step a new ``micropython`` process on the .mpy build (a restart):
sign in (approved in Chromium), the token from the store, a Graph call, a refresh after forced
expiry, then ``SignInRequired`` once the refresh token is revoked (RFC 7009). Every step runs in
64 KiB of heap (``device.HEAP``), against the emulator's Microsoft dialect.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.micropython.conftest import approve_in
from tests.micropython.device import (
    CLIENT_ID,
    TENANT,
    Board,
    fingerprint,
    heap_in_use,
    outcome,
)
from tests.support.serverproc import ServerProcess
from tests.support.tls import self_signed_cert

pytestmark = [pytest.mark.e2e, pytest.mark.micropython, pytest.mark.xdist_group("micropython")]


def _life(board: Board, server: ServerProcess, browser: Any, verify: Any) -> None:
    code: dict[str, Any] = {}

    def approve(shown: dict[str, Any]) -> None:
        code.update(shown)
        approve_in(browser, shown)

    lines = board.sign_in(approve)
    assert "SIGNED-IN" in lines, lines
    assert code["verification_uri"] == server.base_url + "/devicelogin"
    assert code["verification_uri_complete"] is None  # Microsoft's dialect sends none, as Entra
    assert code["user_code"] in code["message"]
    saved = board.stored()
    server.remember(saved["access_token"], saved["refresh_token"], code["user_code"])

    restarted = board.run("token")  # a new process: the token comes from the store
    assert "ERROR" not in " ".join(restarted), restarted
    first = fingerprint(restarted)
    assert heap_in_use(restarted) < 64 * 1024

    me = board.run("me")
    status, _, body = outcome(me, "ME").partition(" ")
    assert status == "200", me
    assert json.loads(body)["displayName"] == "Erin Example"

    board.expire()
    refreshed = board.run("token")
    assert fingerprint(refreshed) != first, refreshed
    assert board.stored()["refresh_token"] != saved["refresh_token"]  # rotated, and kept
    assert fingerprint(board.run("token")) == fingerprint(refreshed)  # stored again, no refresh

    revoked = httpx.post(
        f"{server.base_url}/{TENANT}/oauth2/v2.0/revoke",
        data={"token": board.stored()["refresh_token"], "client_id": CLIENT_ID},
        verify=verify,
    )
    assert revoked.status_code == 200
    board.expire()
    refused = board.run("token")
    assert outcome(refused, "ERROR").startswith("SignInRequired "), refused
    assert not board.store.exists()  # the refused tokens are forgotten
    assert outcome(board.run("me"), "ERROR").startswith("SignInRequired ")


def test_micro_board_life_over_http(
    lib: Path, http_server: ServerProcess, browser: Any, tmp_path: Path
) -> None:
    board = Board(lib=lib, folder=tmp_path, base_url=http_server.base_url)
    _life(board, http_server, browser, verify=True)


def test_micro_board_life_over_tls_with_discovery(
    lib: Path, tls_server: ServerProcess, browser: Any, tmp_path: Path
) -> None:
    board = Board(
        lib=lib, folder=tmp_path, base_url=tls_server.base_url, ca=tls_server.ca, issuer=True
    )
    _life(board, tls_server, browser, verify=ssl.create_default_context(cafile=tls_server.ca))


@pytest.mark.parametrize("ca", ["none", "wrong"])
def test_micro_tls_unverifiable_server_is_refused(
    lib: Path, tls_server: ServerProcess, tmp_path: Path, ca: str
) -> None:
    wrong = None
    if ca == "wrong":  # a CA that did not sign the server's certificate
        wrong = self_signed_cert(tmp_path)[0]
    board = Board(lib=lib, folder=tmp_path, base_url=tls_server.base_url, ca=wrong)
    lines = board.run("sign-in")
    error = outcome(lines, "ERROR")
    assert error.startswith("TLSError "), lines
    assert "ca=" in error
    assert not any(line.startswith("CODE") for line in lines)
