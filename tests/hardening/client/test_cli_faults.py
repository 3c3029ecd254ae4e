"""``deviceflow login --json`` subprocesses through injected faults, against the real server.

Each CLI run gets its own :class:`~tests.hardening.faultproxy.FaultProxy` (its authority points at
the proxy; for TLS the proxy's self-signed certificate is trusted through ``SSL_CERT_FILE``), and
the person approves on the real verification pages over HTTP as soon as the ``code`` event
appears. A run must either sign in (exit 0, a ``signed_in`` event, a refresh token in the cache
that the server honours) or exit with the code the faults explain: 6/7 when the device
authorization request itself was faulted, 3 when the token answer was destroyed after the
server redeemed the code, 5 when the code expired under back-off. Always: exactly one ``code``
event (never a second prompt) and no traceback on stderr.

Flows: the scheduled ones of ``scenarios.specs`` (every HTTP fault kind over HTTP, every TLS
fault over TLS) plus ``RANDOM_FLOWS`` random ones per scheme (more with ``DEVICEFLOW_SOAK=1``),
all at once; ``DEVICEFLOW_FAULT_SEED=<seed>`` replays the random faults. About 10-15 s.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deviceflow.cache.file import FileTokenCache
from tests.e2e.cli.harness import Cli
from tests.hardening import figures
from tests.hardening.client.scenarios import (
    CODE_LIFETIME,
    Approver,
    FlowSpec,
    base_seed,
    specs,
    token_works,
)
from tests.hardening.client.serverkit import ServerProcess
from tests.hardening.faultproxy import PASS, FaultProxy

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("hardening-client")]


@dataclass
class CliRun:
    """One ``login --json`` run and what it printed."""

    spec: FlowSpec
    proxy: FaultProxy
    returncode: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""
    elapsed: float = 0.0
    problems: list[str] = field(default_factory=list)


def run_cli(spec: FlowSpec, server: ServerProcess, cert: tuple[Path, Path], folder: Path) -> CliRun:
    proxy = spec.proxy(server, cert)
    run = CliRun(spec, proxy)
    cli = Cli(server, folder)
    cli.env["DEVICEFLOW_AUTHORITY"] = f"{proxy.base_url}/contoso"
    if spec.tls:
        cli.env["SSL_CERT_FILE"] = str(cert[0])
    approver = Approver(server, proxy, spec.scheduled)
    began = time.monotonic()
    process = cli.start("login", "--json", "--timeout", str(CODE_LIFETIME + 20))
    assert process.stdout is not None
    try:
        first = process.stdout.readline()
        if first.strip():
            event = json.loads(first)
            run.events.append(event)
            if event.get("event") == "code":
                approver.start(event["user_code"])
        out, run.stderr = process.communicate(timeout=CODE_LIFETIME + 30)
        run.events += [json.loads(line) for line in out.splitlines() if line.strip()]
    finally:
        if process.poll() is None:  # only when the run hung: a failure reported below
            process.kill()
            process.communicate()
        run.returncode = process.returncode
        run.elapsed = time.monotonic() - began
        proxy.close()
    approver.join()
    if approver.error is not None:
        run.problems.append(f"approval failed: {approver.error!r}")
    if run.returncode == 0:
        entry = FileTokenCache(cli.cache).load("default")
        if entry is None or not entry.refresh_token:
            run.problems.append("signed in but no refresh token in the cache")
        elif not token_works(server, entry.access_tokens[0].token):
            run.problems.append("the server refuses the cached access token")
    return run


def _codes(run: CliRun) -> int:
    return [event.get("event") for event in run.events].count("code")


def judge_cli(run: CliRun) -> list[str]:
    """Problems with one CLI run (see the module docstring for what is allowed)."""
    where = f"{run.spec.label} exit={run.returncode}: {run.proxy.summary()}"
    problems = [f"{p} ({where})" for p in run.problems + run.proxy.errors]
    if "Traceback" in run.stderr:
        problems.append(f"traceback on stderr ({where})")
    names = [event.get("event") for event in run.events]
    codes = _codes(run)
    if codes > 1:
        problems.append(f"{codes} code events: a second prompt ({where})")
    if run.returncode == 0:
        if names[-1:] != ["signed_in"] or codes != 1:
            problems.append(f"exit 0 without one code and a signed_in event: {names} ({where})")
        return problems
    if names[-1:] != ["error"]:
        problems.append(f"failed without an error event: {names} ({where})")
    if run.spec.scheduled:
        problems.append(f"scheduled run failed ({where})")
    elif codes == 0:
        first = run.proxy.exchanges[0] if run.proxy.exchanges else None
        if first is None or first.fault == PASS or run.returncode not in (6, 7):
            problems.append(f"start failed unexplained ({where})")
    elif run.returncode == 3:
        if not any(e.kind == "poll" for e in run.proxy.lost_successes()):
            problems.append(f"exit 3 without a lost token answer ({where})")
    elif run.returncode == 5:
        if run.elapsed < CODE_LIFETIME - 2:
            problems.append(f"expired after only {run.elapsed:.1f} s ({where})")
    else:
        problems.append(f"unexplained exit code ({where})")
    return problems


def test_cli_login_survives_faults_or_exits_typed(
    server: ServerProcess, cert: tuple[Path, Path], tmp_path: Path
) -> None:
    flows = specs("cli", ("urllib",), base_seed())
    runs: list[CliRun | None] = [None] * len(flows)

    def work(index: int) -> None:
        folder = tmp_path / f"run-{index}"
        folder.mkdir()
        runs[index] = run_cli(flows[index], server, cert, folder)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(flows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CODE_LIFETIME + 60)
    hung = [flows[i].label for i, run in enumerate(runs) if run is None]
    assert not hung, f"runs did not finish: {hung}"
    done = [run for run in runs if run is not None]
    figures.record(
        "Client under faults",
        "CLI login --json (subprocess)",
        flows=len(done),
        faults_injected=sum(len(run.proxy.injected()) for run in done),
        completed=sum(run.returncode == 0 for run in done),
        failed_typed=sum(run.returncode not in (0, None) for run in done),
        at_start=sum(run.returncode != 0 and not _codes(run) for run in done),
        token_answer_lost=sum(run.returncode == 3 for run in done),
        expired=sum(run.returncode == 5 for run in done),
        tracebacks=sum("Traceback" in run.stderr for run in done),
        second_prompts=sum(_codes(run) > 1 for run in done),
    )
    problems = [problem for run in done for problem in judge_cli(run)]
    assert not problems, "\n".join(problems)
