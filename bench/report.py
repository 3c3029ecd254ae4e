"""The benchmark's report: one Markdown table with a verdict per target, and the generated part of
:file:`bench/RESULTS.md`.

``RESULTS.md`` keeps what a person wrote (how to read the figures) around a block that every
``python -m bench --results bench/RESULTS.md`` run replaces: the command, the machine, the table
and the rounds, between the :data:`BEGIN` and :data:`END` lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.footprint import FIRST_USE_OF_MSAL, TOKEN_TIMES_PYTHON

BEGIN = "<!-- bench:begin (written by python -m bench --results; edits inside are replaced) -->"
END = "<!-- bench:end -->"

POLL_TARGETS: dict[str, tuple[float, float | None]] = {
    # name: (least share of the bare ceiling, least multiple of node-oidc-provider or None).
    # As shipped (`deviceflow serve`'s defaults, the access log on), both dialects (issue 18):
    "sqlite-rfc8628-shipped": (0.80, None),
    "sqlite-microsoft-shipped": (0.70, None),
    "postgresql-rfc8628-shipped": (0.55, None),
    "postgresql-microsoft-shipped": (0.55, None),
    # A client polling back to back on a tenant that enforces slow_down:
    "sqlite-storm-shipped": (0.60, None),
    "postgresql-storm-shipped": (0.60, None),
    # Tuned (--log-level warning), against Node too (the earlier rounds' targets):
    "sqlite-rfc8628-tuned": (0.40, 2.0),
    "postgresql-rfc8628-tuned": (0.20, 1.0),
}
FLEET_P99_MS = 50.0
IMPORT_WALL, IMPORT_RSS = 0.25, 0.50


def _verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def same_round(tp: dict[str, Any], name: str, baseline: str) -> list[float]:
    """``name``'s rate over ``baseline``'s in each round (the two ran minutes apart at most)."""
    rounds = tp.get("rounds", {})
    if name not in rounds or baseline not in rounds:
        return []
    return [a / b for a, b in zip(rounds[name], rounds[baseline], strict=True) if b]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def poll_rows(tp: dict[str, Any]) -> list[str]:
    """Pending-poll throughput: one row per target, ratios against the bare ceiling and Node.

    The ratio column gives the best round of each target against the best of each baseline,
    then the median of the same-round ratios; the verdict goes by the latter when there are
    rounds (the two agree when nothing else on the machine moved).
    """
    rows = tp["results"]
    cases = tp.get("cases", {})
    ceiling = rows["bare-asgi"]["requests_per_s"]
    node = rows.get("node-oidc-provider")
    lines = []
    for name, row in rows.items():
        rate = row["requests_per_s"]
        figure = f"{rate:.0f} req/s, p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms"
        wrong = row.get("unexpected", 0) + row.get("socket_errors", 0)
        if wrong:
            expect = cases.get(name, {}).get("expect", "authorization_pending")
            figure += (
                f", {row.get('unexpected', 0)} answers other than {expect},"
                f" {row.get('socket_errors', 0)} socket errors"
            )
        of_ceiling = rate / ceiling
        vs_node = rate / node["requests_per_s"] if node else None
        ratio = f"{of_ceiling:.2f} of ceiling"
        if vs_node is not None:
            ratio += f", {vs_node:.2f}x node"
        per_ceiling = same_round(tp, name, "bare-asgi")
        per_node = same_round(tp, name, "node-oidc-provider") if node else []
        # Medians only when every baseline has its rounds: never one median and one best.
        if name != "bare-asgi" and per_ceiling and (per_node or not node):
            of_ceiling = _median(per_ceiling)
            ratio += f"; same round, median: {of_ceiling:.2f}"
            if per_node:
                vs_node = _median(per_node)
                ratio += f", {vs_node:.2f}x"
        target, met = "", ""
        if name in POLL_TARGETS:
            least_ceiling, least_node = POLL_TARGETS[name]
            target = f">= {least_ceiling:.2f}"
            ok = not wrong and of_ceiling >= least_ceiling
            if least_node is not None:
                target += f", >= {least_node:g}x"
                ok = ok and vs_node is not None and vs_node >= least_node
            met = _verdict(ok)
            if least_node is not None and vs_node is None:
                met += " (no Node in this run)"
        lines.append(f"| poll {name} | {figure} | bare ASGI | {ratio} | {target} | {met} |")
    return lines


def fleet_met(run: dict[str, Any]) -> bool:
    """The fleet target: zero errors and p99 below :data:`FLEET_P99_MS`."""
    return bool(run["errors"] == 0 and run["p99_ms"] < FLEET_P99_MS)


def _setup(run: dict[str, Any]) -> str:
    """How the fleet's server ran (runs saved before the setups were recorded: as shipped)."""
    setup = run.get("setup", "shipped")
    return f" {setup}" + (f" (`{' '.join(run['options'])}`)" if run.get("options") else "")


def fleet_rows(fleets: list[dict[str, Any]]) -> list[str]:
    """Fleet simulations: achieved against due poll rate, latency from the due time, errors."""
    lines = []
    for run in fleets:
        figure = (
            f"{run['devices']} devices/{run['interval_s']:g} s for {run['seconds']:g} s:"
            f" {run['poll_rate']:.0f} of"
            f" {run['expected_rate']:.0f} due polls/s, p50 {run['p50_ms']:.1f} ms, p99"
            f" {run['p99_ms']:.1f} ms (from the due time), send lag p99"
            f" {run['send_lag_p99_ms']:.1f} ms, errors {run['errors']}, server CPU"
            f" {run['server_cpu_share_of_one_core']:.0%} of a core, generator"
            f" {run['generator_cpu_share_of_one_core']:.0%}"
        )
        if "late_by_second" in run:  # bursts (a stall, then its queue) or spread thin
            late = run["late_by_second"]
            figure += (
                f", polls over 50 ms late in {len(late)} of the run's {run['seconds']:g} seconds"
            )
        if "server_rss_mib" in run:
            figure += f"; server RSS {run['server_rss_mib']:.0f} MiB with the flows pending"
        ratio = f"{run['poll_rate'] / run['expected_rate']:.2f} of the due rate"
        met = _verdict(fleet_met(run))
        lines.append(
            f"| fleet {run['db']}{_setup(run)} | {figure} | due polls | {ratio} |"
            f" 0 errors, p99 < {FLEET_P99_MS:g} ms | {met} |"
        )
    return lines


def memory_rows(tp: dict[str, Any]) -> list[str]:
    """Resident memory of each server the throughput section ran: once it answered, and after
    its rounds (node-oidc-provider's beside ours: the issue quotes ~140 MiB idle)."""
    memory = tp.get("memory", {})
    node = memory.get("node", {}).get("after_rounds_mib")
    lines = []
    for name, rss in memory.items():
        ratio = f"{rss['after_rounds_mib'] / node:.2f} of node's" if node else ""
        lines.append(
            f"| memory {name} | RSS {rss['started_mib']:.0f} MiB started,"
            f" {rss['after_rounds_mib']:.0f} MiB after the rounds | node-oidc-provider after"
            f" its rounds | {ratio} |  |  |"
        )
    return lines


def footprint_rows(fp: dict[str, Any]) -> list[str]:
    """Start-up wall time and peak RSS against ``import msal``; the cached token; the size."""
    rows = fp["rows"]
    msal = rows["import msal"]
    lines = []
    for name in (
        "import deviceflow",
        "first use (client + transport)",
        "import (CLI token path)",
        "import msal",
        "import httpx",
    ):
        row = rows[name]
        wall = row["added_wall_ms"] / msal["added_wall_ms"]
        rss = row["added_rss_mb"] / msal["added_rss_mb"]
        target, met = "", ""
        if name == "import deviceflow":
            target = f"< {IMPORT_WALL:.2f} / < {IMPORT_RSS:.2f}"
            met = _verdict(wall < IMPORT_WALL and rss < IMPORT_RSS)
        elif name == "first use (client + transport)":
            target = f"< {FIRST_USE_OF_MSAL:.2f} / < {FIRST_USE_OF_MSAL:.2f}"
            met = _verdict(wall < FIRST_USE_OF_MSAL and rss < FIRST_USE_OF_MSAL)
        lines.append(
            f"| {name} | {row['added_wall_ms']:+.0f} ms, {row['added_rss_mb']:+.1f} MB"
            f" | python -c pass | {wall:.2f} / {rss:.2f} of msal's added wall / RSS"
            f" | {target} | {met} |"
        )
    token = rows["deviceflow token (cached)"]
    times = fp["ratios"]["token_cached_vs_python_pass_wall"]
    lines.append(
        f"| deviceflow token (cached) | {token['wall_ms']:.0f} ms | python -c pass"
        f" {rows['python -c pass']['wall_ms']:.0f} ms | {times:.1f}x"
        f" | <= {TOKEN_TIMES_PYTHON:g}x | {_verdict(times <= TOKEN_TIMES_PYTHON)} |"
    )
    inst = fp["installed"]
    core = inst["deviceflow_core_requirements"]
    lines.append(
        f"| installed size | {inst['deviceflow_bytes'] / 1024:.0f} KiB, core requirements"
        f" {', '.join(core) if core else 'none'} | msal + deps"
        f" {inst['msal_with_dependencies_bytes'] / 2**20:.1f} MiB | {inst['ratio_vs_msal']:.3f}"
        f" | no third-party package | {_verdict(not core)} |"
    )
    return lines


def table(results: dict[str, Any]) -> str:
    """Every figure of one run as a Markdown table, with the target and whether it was met."""
    lines = [
        "| benchmark | figure | baseline | ratio | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    if "throughput" in results:
        lines += poll_rows(results["throughput"])
    lines += fleet_rows(results.get("fleet", []))
    if "throughput" in results:
        lines += memory_rows(results["throughput"])
    if "footprint" in results:
        lines += footprint_rows(results["footprint"])
    return "\n".join(lines)


def block(results: dict[str, Any], command: str) -> str:
    """The generated part of ``RESULTS.md``: command, machine, table, throughput rounds."""
    machine = results["machine"]
    server = machine["server"]
    start = ", ".join(f"{x:.2f}" for x in machine["load_average_at_start"])
    end = ", ".join(f"{x:.2f}" for x in results.get("load_average_at_end", ()))
    lines = [
        BEGIN,
        f"Run: `{command}`, {results['date']}, {results['elapsed_s']:.0f} s.",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores (shared by the servers, the load"
        f" generators and the baselines); {machine['platform']}; Python {machine['python']};"
        f" Node {machine['node'] or 'absent'}; PostgreSQL {machine.get('postgresql') or 'absent'};"
        f" uvicorn {server['uvicorn']} with {server['http_parser']} and {server['event_loop']}."
        f" Load average (1, 5, 15 min) at the start: {start}; at the end: {end or 'n/a'}.",
        "",
        table(results),
    ]
    tp = results.get("throughput")
    if tp:
        rounds = "; ".join(
            f"{name} {', '.join(str(r) for r in found)}" for name, found in tp["rounds"].items()
        )
        lines += [
            "",
            f"Pending polls: `wrk -t{tp['wrk']['threads']} -c{tp['wrk']['connections']}`,"
            f" {tp['wrk']['rounds']} rounds of {tp['wrk']['seconds']:g} s; each round runs every"
            f" target once in turn. Shipped: `deviceflow serve` with its defaults (access log on);"
            f" tuned: `--log-level warning`; storm: one device code polled back to back on a"
            f" tenant that enforces `slow_down` (every answer `slow_down`)."
            f" The table's first ratios set each target's best round"
            f" against the baselines' best; the medians set each round against its own"
            f" baselines, and the verdicts go by them. Every round (req/s): {rounds}.",
        ]
    lines.append(END)
    return "\n".join(lines)


def write_results(path: Path, generated: str) -> None:
    """Replace the generated block of ``path`` (create the file around it when there is none).

    Raises:
        ValueError: ``path`` has a begin line without an end line after it.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text:
        head, _, rest = text.partition(BEGIN)
        if END not in rest:
            raise ValueError(f"{path}: {BEGIN!r} has no {END!r} after it")
        tail = rest.partition(END)[2]
        text = head + generated + tail
    else:
        text = (text or "# Benchmark results\n\n") + generated + "\n"
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
