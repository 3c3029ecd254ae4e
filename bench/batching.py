"""``python -m bench.batching``: pending polls batched per loop turn, or one at a time (A/B).

The same server code twice, on SQLite: as served (``arecord_poll``: the polls of one turn of the
event loop share one transaction) and through :mod:`bench.unbatched` (each poll on its own),
with the bare ASGI ceiling and node-oidc-provider (when present) beside them. All servers stay
up and every round runs each target once in turn, so the machine's changes of speed fall on
all of them alike; every round is printed, no best-of.

Options: ``--seconds`` (each ``wrk`` run, default 5), ``--rounds`` (default 3).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

from bench import procs, throughput


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batching", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="deviceflow-batching-") as tmp:
        folder = Path(tmp)
        targets: dict[str, Callable[[], AbstractContextManager[procs.Target]]] = {
            "bare ASGI ceiling": lambda: procs.bare_server(folder),
            "SQLite, batched per turn": lambda: procs.deviceflow_server(
                f"sqlite:///{folder / 'batched.sqlite3'}", folder, "batched"
            ),
            "SQLite, one at a time": lambda: procs.deviceflow_server(
                f"sqlite:///{folder / 'single.sqlite3'}",
                folder,
                "single",
                module="bench.unbatched",
            ),
        }
        if shutil.which("node") and procs.node_modules():
            targets["node-oidc-provider"] = lambda: procs.node_provider(folder)
        rows: dict[str, list[str]] = {name: [] for name in targets}
        with ExitStack() as stack:
            started = {name: stack.enter_context(start()) for name, start in targets.items()}
            bodies = {
                name: throughput.prepare(
                    target, throughput.Case(name, name), threads=2, connections=64
                )
                for name, target in started.items()
            }
            for _ in range(args.rounds):
                for name, target in started.items():
                    result = throughput.run_wrk(
                        target, bodies[name], seconds=args.seconds, threads=2, connections=64
                    )
                    wrong = result.unexpected + result.socket_errors
                    rows[name].append(
                        f"{result.requests_per_s:,.0f} ({result.p99_ms:.0f})"
                        + (f" {wrong} wrong" if wrong else "")
                    )
    print(f"wrk -t2 -c64, {args.rounds} interleaved rounds of {args.seconds:g} s: req/s (p99 ms)")
    print("| target | rounds |\n|---|---|")
    for name, found in rows.items():
        print(f"| {name} | {', '.join(found)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
