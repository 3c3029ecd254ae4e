"""deviceflow.micro on MicroPython's Unix port: bundle size and the heap each step needs.

``python -m bench.micro`` builds the .mpy bundle (``scripts/build-micro``) and, for each step of a
board's life, finds the smallest ``-X heapsize`` (in 4 KiB steps) with which the step completes,
by bisection: sign-in (approved over HTTP by a stand-in person), the token from the store after a
restart, a Graph ``GET /v1.0/me``, and a refresh after forced expiry. Three services: a real
``deviceflow serve`` over plain HTTP and over ``--tls`` (the board verifying the server against
its CA and finding the endpoints by discovery; SQLite, interval 1 s, the Microsoft dialect), and
``tests.micropython.entra.EntraSized`` over TLS (Entra-sized tokens, larger than the emulator's).
The Unix port is 64-bit: its objects are twice a 32-bit board's, so a board needs less than these
figures. Prints one Markdown table.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.hardening.client.serverkit import approve_http
from tests.micropython.device import Board, build, write_board_config
from tests.micropython.entra import EntraSized
from tests.support.serverproc import ServerProcess

LOW, HIGH, STEP = 32, 256, 4  # KiB
STEPS = (
    ("sign-in (endpoints, device code, polling, token)", "sign-in"),
    ("token from the store, after a restart", "token"),
    ("Graph GET /v1.0/me", "me"),
    ("refresh after forced expiry", "refresh"),
)


def _smallest(works: Callable[[int], bool]) -> int:
    low, high = LOW, HIGH  # works(high) must hold
    if not works(high):
        raise RuntimeError(f"the step fails even with {high} KiB")
    while high - low > STEP:
        middle = (low + high) // 2 // STEP * STEP
        if works(middle):
            high = middle
        else:
            low = middle
    return high


def _measure(board: Board, verify: ssl.SSLContext | bool | None) -> dict[str, int]:
    """The smallest heap (KiB) of each step of ``board``'s life (``verify=None``: no approval)."""

    def approve(code: dict[str, Any]) -> None:
        if verify is None:
            return
        args = (board.base_url, code["user_code"])
        threading.Thread(target=approve_http, args=args, kwargs={"verify": verify}).start()

    def signs_in(kib: int) -> bool:
        board.store.unlink(missing_ok=True)
        return "SIGNED-IN" in board.sign_in(approve, heap=f"{kib}k")

    def step(name: str, expire: bool = False) -> Callable[[int], bool]:
        def works(kib: int) -> bool:
            saved = board.store.read_bytes()
            if expire:
                board.expire()
            ok = not any(x.startswith("ERROR") for x in board.run(name, heap=f"{kib}k"))
            if expire:  # a refresh rotates the refresh token: sign in again for the next
                signs_in(HIGH)
            else:
                board.store.write_bytes(saved)
            return ok

        return works

    found = {"sign-in": _smallest(signs_in)}
    assert signs_in(HIGH), "cannot sign in"  # the last probe may have failed: a store for the rest
    found["token"] = _smallest(step("token"))
    found["me"] = _smallest(step("me"))
    found["refresh"] = _smallest(step("token", expire=True))
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        lib = build(folder)
        bundle = sum(p.stat().st_size for p in (lib / "deviceflow").rglob("*.mpy"))
        columns = []
        for tls in (False, True):
            where = folder / ("tls" if tls else "http")
            where.mkdir()
            server = ServerProcess(folder=where, config=write_board_config(where), tls=tls)
            server.start()
            try:
                board = Board(lib=lib, folder=where, base_url=server.base_url)
                verify: ssl.SSLContext | bool = True
                if tls:
                    board.ca, board.issuer = server.ca, True
                    verify = ssl.create_default_context(cafile=server.ca)
                columns.append(_measure(board, verify))
            finally:
                server.stop()
        where = folder / "entra"
        where.mkdir()
        with EntraSized(where) as entra:
            board = Board(lib=lib, folder=where, base_url=entra.base_url, ca=entra.ca)
            columns.append(_measure(board, None))
    print(f"bundle: {bundle} bytes of .mpy (scripts/build-micro)\n")
    print("| step (Unix port, 64-bit, .mpy build) | HTTP | TLS, discovery | TLS, Entra-sized |")
    print("|---|---|---|---|")
    for name, key in STEPS:
        print(f"| {name} | " + " | ".join(f"{column[key]} KiB" for column in columns) + " |")


if __name__ == "__main__":
    main()
