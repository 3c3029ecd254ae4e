"""``python -m bench``: run every section, print one table, write ``bench/results.json``.

Options: ``--seconds`` (each wrk run), ``--rounds`` (rounds over every target in turn; the best
round of each is kept), ``--devices``, ``--fleet-seconds``, ``--footprint-runs``,
``--json PATH``, ``--results RESULTS.md`` (replace the generated block there), ``--postgres URL``
(an administrative URL; a fresh database is created and dropped; default the machine's server
on 127.0.0.1:5432), ``--render JSON`` (run nothing; report a saved run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from bench import fleet, footprint, procs, report, throughput


def _machine() -> dict[str, object]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "node": node.stdout.strip() or None,
        "platform": platform.platform(),
        "server": _server_stack(),
    }


FLEET_SETUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shipped", ()),
    ("workers-2", ("--workers", "2")),
)
"""The fleet's servers: as shipped, and with ``--workers 2`` (one per core of this machine)."""


def fleet_sizes(devices: int) -> list[int]:
    """The fleets to simulate: the one asked for only (starting 40,000 flows takes most of a
    minute; a smaller fleet is a separate run: ``--devices``)."""
    return [devices]


def _server_stack() -> dict[str, object]:
    from importlib.metadata import version

    return {
        "uvicorn": version("uvicorn"),
        "http_parser": "httptools" if find_spec("httptools") else "h11 (pure Python)",
        "event_loop": "uvloop" if find_spec("uvloop") else "asyncio",
    }


def _postgres(url: str) -> str | None:
    """The server version at ``url``, or None when it cannot be reached."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except Exception:
        return None
    return str(row[0]).split()[0] if row else "unknown"


def _without_json(argv: list[str]) -> list[str]:
    """``argv`` less ``--json PATH`` (where the JSON went says nothing of the run)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif not arg.startswith("--json="):
            kept.append(arg)
    return kept


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--devices", type=int, default=40_000)
    # Longer than a flow is trusted from memory (grant._pacing.TRUST_FOR, 60 s): every device
    # also sends the poll that goes to the database again, as a fleet does all day.
    parser.add_argument("--fleet-seconds", type=float, default=75.0)
    parser.add_argument("--footprint-runs", type=int, default=15)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results.json")
    parser.add_argument(
        "--results",
        type=Path,
        help="also write the run into this RESULTS.md (its generated block; the rest is kept)",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="run nothing: print the table of a saved run (and write it with --results)",
    )
    args = parser.parse_args(argv)
    if args.render is not None:
        saved = json.loads(args.render.read_text(encoding="utf-8"))
        print(report.table(saved))
        if args.results is not None:
            command = saved.get("command", "python -m bench (command not recorded)")
            report.write_results(args.results, report.block(saved, command))
        return 0
    started = time.time()
    results: dict[str, Any] = {
        "machine": _machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
    }
    pg = _postgres(args.postgres)
    results["machine"]["postgresql"] = pg
    with tempfile.TemporaryDirectory(prefix="deviceflow-bench-") as tmp:
        folder = Path(tmp)
        print("1/3 pending-poll throughput (wrk) ...", file=sys.stderr, flush=True)
        results["throughput"] = throughput.run(
            folder,
            postgres_url=(lambda: procs.postgres_database(args.postgres)) if pg else None,
            seconds=args.seconds,
            rounds=args.rounds,
        )
        print("2/3 fleet simulation ...", file=sys.stderr, flush=True)
        fleets = []
        dbs = [("sqlite", None)] + ([("postgresql", args.postgres)] if pg else [])
        for db, admin in dbs:
            # As shipped (deviceflow serve's defaults: one process, the access log on), then
            # with a worker per core (docs/deployment.md, sizing).
            for setup, options in FLEET_SETUPS:
                with ExitStack() as stack:
                    url = (
                        stack.enter_context(procs.postgres_database(admin))
                        if admin
                        else f"sqlite:///{folder / f'fleet-{setup}.sqlite3'}"
                    )
                    target = stack.enter_context(
                        procs.deviceflow_server(url, folder, f"fleet-{db}-{setup}", options=options)
                    )
                    for devices in fleet_sizes(args.devices):
                        run = fleet.simulate(
                            target,
                            devices=devices,
                            interval=5.0,
                            seconds=args.fleet_seconds,
                            jitter=0.1,
                            seed=8628,
                            # 8,000 polls/s over 64 connections leaves each 8 ms per round
                            # trip: the generator would queue before the server does.
                            connections=256,
                        )
                        fleets.append({"db": db, "setup": setup, "options": list(options), **run})
                        print(
                            f"   {db} {setup}: {devices} devices, p99 {run['p99_ms']:.1f} ms,"
                            f" errors {run['errors']}, {run['poll_rate']:.0f} of"
                            f" {run['expected_rate']:.0f} polls/s,"
                            f" RSS {run['server_rss_mib']:.0f} MiB",
                            file=sys.stderr,
                            flush=True,
                        )
                        if report.fleet_met(run):
                            break  # the requested fleet, or the largest smaller one that holds
        results["fleet"] = fleets
    print("3/3 client footprint ...", file=sys.stderr, flush=True)
    results["footprint"] = footprint.run(runs=args.footprint_runs)
    results["elapsed_s"] = time.time() - started
    results["load_average_at_end"] = os.getloadavg()
    results["command"] = " ".join(["python -m bench", *_without_json(argv)])
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(report.table(results))
    print(f"\nJSON: {args.json}  ({results['elapsed_s']:.0f} s)")
    if args.results is not None:
        report.write_results(args.results, report.block(results, results["command"]))
        print(f"Results: {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
