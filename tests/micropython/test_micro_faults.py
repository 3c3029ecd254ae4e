"""deviceflow.micro survives the faults the CPython client survives, on the Unix port.

A :class:`~tests.hardening.faultproxy.FaultProxy` sits between the board and a real
``deviceflow serve``: the device authorization request is dropped once, polls get a 503 with
``Retry-After``, a dropped connection and a 429 with ``Retry-After``; the Graph call is dropped
once, cut off halfway through its body once (the board parses JSON off the socket, and must tell
a body cut short, worth retrying, from a bad one) and answered 503 once; the refresh is reset
once. Each must end in success, with the faults actually injected. And a ``slow_down`` adds 5 s
to the polling interval (RFC 8628 §3.5), for a stand-in service that sends one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.client.serverkit import approve_http
from tests.hardening.faultproxy import (
    DROP,
    PASS,
    RESET,
    STATUS_503,
    STATUS_503_RETRY_AFTER,
    TOO_MANY_RETRY_AFTER,
    TRUNCATE,
    FaultProxy,
)
from tests.micropython.device import Board, fingerprint, outcome
from tests.micropython.entra import EntraSized
from tests.support.serverproc import ServerProcess

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

        proxy.schedule += [DROP, TRUNCATE, STATUS_503]  # the Graph call
        me = board.run("me")
        status, _, body = outcome(me, "ME").partition(" ")
        assert status == "200", (me, proxy.summary())
        assert json.loads(body)["displayName"] == "Erin Example"
        assert [e.fault for e in proxy.injected()[4:]] == [DROP, TRUNCATE, STATUS_503]

        proxy.schedule += [RESET]  # the refresh
        before = board.stored()["access_token"]
        board.expire()
        assert fingerprint(board.run("token"))
        assert board.stored()["access_token"] != before
        assert proxy.injected()[-1].fault == RESET, proxy.summary()
        assert proxy.injected()[-1].kind == "refresh", proxy.summary()
        assert not proxy.errors


def test_micro_slow_down_adds_five_seconds(lib: Path, tmp_path: Path) -> None:
    with EntraSized(tmp_path, slow_down=True) as service:  # interval 1 s
        board = Board(lib=lib, folder=tmp_path, base_url=service.base_url, ca=service.ca)
        lines = board.sign_in(lambda code: None)
        assert "SIGNED-IN" in lines, lines
        assert len(service.polls) == 2, service.polls
        # The next poll waits the new interval, 1 + 5 s (padded for clock drift).
        assert service.polls[1] - service.polls[0] >= 6, service.polls
