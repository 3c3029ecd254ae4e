"""Entra-sized tokens fit the board's 64 KiB: sign-in, restart, Graph call and refresh, over TLS.

The emulator's tokens are smaller than Entra's (see ``entra.py``); against :class:`EntraSized`,
with a 3,000-character access token, a 1,600-character ID token and a 2,000-character refresh
token in every token response, each step runs on the .mpy build in ``device.HEAP``, the board
verifying the service's certificate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.micropython.device import Board, fingerprint, outcome
from tests.micropython.entra import EntraSized

pytestmark = [pytest.mark.e2e, pytest.mark.micropython, pytest.mark.xdist_group("micropython")]


def test_micro_entra_sized_tokens_fit(lib: Path, tmp_path: Path) -> None:
    with EntraSized(tmp_path) as entra:
        board = Board(lib=lib, folder=tmp_path, base_url=entra.base_url, ca=entra.ca)

        lines = board.sign_in(lambda code: None)  # approved after one authorization_pending
        assert "SIGNED-IN" in lines, lines
        first = entra.issued[-1]
        saved = board.stored()
        assert saved["access_token"] == first["access_token"]
        assert saved["refresh_token"] == first["refresh_token"]
        assert "id_token" not in saved  # parsed, and let go

        restarted = board.run("token")
        assert fingerprint(restarted).startswith("3000 "), restarted

        status, _, body = outcome(board.run("me"), "ME").partition(" ")
        assert status == "200", body  # 401 unless the whole token was sent

        board.expire()
        refreshed = board.run("token")
        assert fingerprint(refreshed) != fingerprint(restarted), refreshed
        assert len(entra.issued) == 2
        assert board.stored()["refresh_token"] == entra.issued[-1]["refresh_token"]
        status, _, body = outcome(board.run("me"), "ME").partition(" ")
        assert status == "200", body
