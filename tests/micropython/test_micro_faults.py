"""deviceflow.micro survives the faults the CPython client survives, on the Unix port.

A :class:`~tests.hardening.faultproxy.FaultProxy` sits between the board and a real
``deviceflow serve``: the device authorization request is dropped once, polls get a 503 with
``Retry-After``, a dropped connection and a 429 with ``Retry-After``; the Graph call is dropped
once and answered 503 once; the refresh is reset once. Each must end in success, with the faults
actually injected. (``slow_down`` is the core's rule, covered by the core's cases that also run
under MicroPython: the board only sleeps until ``next_poll_at``.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server.serverproc import ServerProcess
from tests.hardening.client.serverkit import approve_http
from tests.hardening.faultproxy import (
    DROP,
    PASS,
    RESET,
    STATUS_503,
    STATUS_503_RETRY_AFTER,
    TOO_MANY_RETRY_AFTER,
    FaultProxy,
)
from tests.micropython.device import Board, fingerprint, outcome

pytestmark = [pytest.mark.e2e, pytest.mark.micropython, pytest.mark.xdist_group("micropython")]


def test_micro_faults_are_survived(lib: Path, http_server: ServerProcess, tmp_path: Path) -> None:
    sign_in_faults = [DROP, PASS, STATUS_503_RETRY_AFTER, DROP, TOO_MANY_RETRY_AFTER]
    with FaultProxy(http_server.port, seed=14, schedule=sign_in_faults) as proxy:
        board = Board(lib=lib, folder=tmp_path, base_url=proxy.base_url)

        def approve(code: dict[str, Any]) -> None:
            assert approve_http(http_server.base_url, code["user_code"]) == 200

        lines = board.sign_in(approve)
        assert "SIGNED-IN" in lines, (lines, proxy.summary())
        assert [e.fault for e in proxy.injected()] == [
            DROP,
            STATUS_503_RETRY_AFTER,
            DROP,
            TOO_MANY_RETRY_AFTER,
        ], proxy.summary()

        proxy.schedule += [DROP, STATUS_503]  # the Graph call
        me = board.run("me")
        status, _, body = outcome(me, "ME").partition(" ")
        assert status == "200", (me, proxy.summary())
        assert json.loads(body)["displayName"] == "Erin Example"
        assert len(proxy.injected()) == 6, proxy.summary()

        proxy.schedule += [RESET]  # the refresh
        before = board.stored()["access_token"]
        board.expire()
        assert fingerprint(board.run("token"))
        assert board.stored()["access_token"] != before
        assert proxy.injected()[-1].fault == RESET, proxy.summary()
        assert proxy.injected()[-1].kind == "refresh", proxy.summary()
        assert not proxy.errors
