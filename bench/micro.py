"""deviceflow.micro on MicroPython's Unix port: bundle size and the heap each step needs.

``python -m bench.micro`` builds the .mpy bundle (``scripts/build-micro``), starts a real
``deviceflow serve`` (HTTP, SQLite, interval 1 s), and for each step of a board's life finds the
smallest ``-X heapsize`` (in 8 KiB steps) with which the step completes, by bisection: sign-in
(approved over HTTP by a stand-in person), the token from the store after a restart, a Graph
``GET /v1.0/me``, and a refresh after forced expiry. The Unix port is 64-bit: its objects are
twice a 32-bit board's, so a board needs less than these figures. Prints one Markdown table.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.server.serverproc import ServerProcess, write_config
from tests.hardening.client.serverkit import approve_http
from tests.micropython.device import Board, build

LOW, HIGH, STEP = 32, 256, 8  # KiB


def _approver(base_url: str) -> Callable[[dict[str, Any]], None]:
    def approve(code: dict[str, Any]) -> None:
        threading.Thread(target=approve_http, args=(base_url, code["user_code"])).start()

    return approve


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


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        lib = build(folder)
        bundle = sum(p.stat().st_size for p in (lib / "deviceflow").rglob("*.mpy"))
        server = ServerProcess(folder=folder, config=write_config(folder))
        server.start()
        try:
            board = Board(lib=lib, folder=folder, base_url=server.base_url)
            approve = _approver(server.base_url)

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

            figures = [("sign-in (device code, polling, token)", _smallest(signs_in))]
            figures.append(("token from the store, after a restart", _smallest(step("token"))))
            figures.append(("Graph GET /v1.0/me", _smallest(step("me"))))
            figures.append(("refresh after forced expiry", _smallest(step("token", True))))
        finally:
            server.stop()
    print(f"bundle: {bundle} bytes of .mpy (scripts/build-micro)\n")
    print("| step (Unix port, 64-bit, .mpy build) | smallest `-X heapsize` |")
    print("|---|---|")
    for name, kib in figures:
        print(f"| {name} | {kib} KiB |")


if __name__ == "__main__":
    main()
