"""The token cache under SIGKILL: killed writers and refreshers leave a readable cache and never
lose the refresh token.

Two kinds of victims, killed at random moments (a seeded rng; the seed is in every failure
message and ``DEVICEFLOW_CRASH_SEED=<seed>`` replays the kill times):

- ``saver``: a child process saving generation after generation of a profile with
  :class:`~deviceflow.cache.file.FileTokenCache`, under the profile lock. After each kill the
  file must load (never corrupt, never set aside), the lock must be free, and the refresh token
  must be the last acknowledged generation or the next one: old or new, never neither, never
  older.
- ``deviceflow token``: the real CLI forced to refresh (``--min-validity`` beyond the access
  token's lifetime) against a real ``deviceflow serve``, through a passive
  :class:`~tests.hardening.faultproxy.FaultProxy` that only records whether the refresh reached
  the server and whether its answer came back. Half the kills land at a uniformly random moment
  of the run, half just after the refresh request reached the server. After each kill the cache
  must load and hold the old or the new refresh token, and the saved one must still work (the
  test refreshes with it). With ``refresh_rotation = "microsoft"`` that must always hold. With
  ``"strict"`` one case cannot be saved by any client: the server rotated the token and the
  process died before the answer reached the disk (in flight, or in memory for the
  milliseconds before the atomic write); the old token is then refused and the family revoked.
  Those kills are counted (``lost_in_flight``) and must all be of that kind, and the test signs
  in again to go on.

Default counts are modest (150 saver kills, 12 refresh runs per rotation mode, most of them
killed; about 30-50 s in all on 2 busy cores); ``DEVICEFLOW_SOAK=1`` raises them to 2000 and 80.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deviceflow.cache.file import STALE_TEMP_SECONDS, FileTokenCache
from deviceflow.cli.errors import SignInRequiredError
from deviceflow.cli.tokens import TokenManager
from deviceflow.transports import UrllibTransport
from tests.e2e.cli.harness import Cli
from tests.hardening import figures
from tests.hardening.cache import saver
from tests.hardening.cache.saver import PROFILE, generation_of
from tests.hardening.client.serverkit import ServerProcess, approve_http, start_server
from tests.hardening.faultproxy import FaultProxy

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("hardening-cache")]

SOAK = os.environ.get("DEVICEFLOW_SOAK") == "1"
SAVER_KILLS = 2000 if SOAK else 150
REFRESH_KILLS = 80 if SOAK else 12
FORCE_REFRESH = ("token", "--min-validity", "100000000")


def crash_seed() -> int:
    value = os.environ.get("DEVICEFLOW_CRASH_SEED")
    return int(value) if value else secrets.randbelow(2**31)


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.glob(f".{PROFILE}.*.tmp")] if folder.exists() else []


# --- saver ------------------------------------------------------------------------------------


def test_cache_survives_sigkill_during_saves(tmp_path: Path) -> None:
    seed = crash_seed()
    rng = random.Random(seed)
    folder = tmp_path / "cache"
    cache = FileTokenCache(folder, lock_timeout=2.0)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.hardening.cache.saver"])
    problems: list[str] = []
    saves = kills = 0
    for iteration in range(SAVER_KILLS):
        before = generation_of(cache.load(PROFILE))
        acks = tmp_path / f"acks-{iteration}"
        child = context.Process(target=saver.run, args=(str(folder), before + 1, str(acks)))
        child.start()
        deadline = time.monotonic() + 30
        while not (acks.exists() and acks.read_bytes()) and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.03))
        child.kill()  # SIGKILL
        child.join(30)
        kills += child.exitcode == -signal.SIGKILL
        done = saver.acknowledged(acks)
        saves += len(done)
        where = f"seed={seed} iteration={iteration}"
        try:
            after = generation_of(cache.load(PROFILE))  # raises if corrupt (and sets it aside)
        except Exception as exc:
            problems.append(f"cache unreadable after the kill: {exc!r} ({where})")
            break
        last = done[-1] if done else before
        if after not in (last, last + 1):
            problems.append(f"holds generation {after}, last durable {last} ({where})")
        try:
            with cache.lock(PROFILE):  # the dead child's lock must be gone
                pass
        except Exception as exc:
            problems.append(f"lock still held after the kill: {exc!r} ({where})")
    # Kills inside a save leave that save's temporary file (a copy of a refresh token) behind;
    # the next save sweeps the stale ones (the clock says they are old), logout all of them.
    leftovers = len(_temp_files(folder))
    later = FileTokenCache(folder, clock=lambda: time.time() + STALE_TEMP_SECONDS + 60)
    later.save(PROFILE, saver.entry_for(generation_of(cache.load(PROFILE)) + 1))
    after_save = len(_temp_files(folder))
    figures.record(
        "Cache under crashes",
        "FileTokenCache saves (child process)",
        sigkills=kills,
        cache_readable=kills - sum("unreadable" in p for p in problems),
        refresh_token_lost=sum("holds generation" in p for p in problems),
        saves_acknowledged=saves,
        temp_files_left=leftovers,
        temp_files_after_next_save=after_save,
    )
    assert not problems, "\n".join(problems)
    assert kills == SAVER_KILLS
    assert not list(folder.glob("*.corrupt-*")), f"a file was set aside (seed={seed})"
    assert after_save == 0, f"stale temporary files survived a save (seed={seed})"
    assert cache.remove(PROFILE)
    assert not list(folder.iterdir()) or {p.name for p in folder.iterdir()} == {"default.lock"}


# --- deviceflow token against a real server -------------------------------------------------


@dataclass
class Rig:
    """A server in one rotation mode, a passive proxy in front of it, and a CLI profile."""

    rotation: str
    server: ServerProcess
    proxy: FaultProxy
    cli: Cli
    cache: FileTokenCache
    logins: int = 0
    problems: list[str] = field(default_factory=list)

    def login(self) -> None:
        """Sign in through the proxy, approving on the verification pages over HTTP."""
        self.logins += 1
        process = self.cli.start("login", "--json", "--timeout", "60")
        assert process.stdout is not None
        code = json.loads(process.stdout.readline())
        assert code["event"] == "code", code
        assert approve_http(self.server.base_url, code["user_code"]) == 200
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err

    def refresh_in_process(self) -> bool:
        """Refresh with the saved refresh token (as the next ``deviceflow token`` would)."""
        manager = TokenManager(self.cache, PROFILE, transport=UrllibTransport(), clock=time.time)
        try:
            manager.access_token(min_validity=100_000_000)
        except SignInRequiredError:
            return False
        return True


@pytest.fixture(params=["strict", "microsoft"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    rotation: str = request.param
    server = start_server(tmp_path / "server", rotation=rotation)
    proxy = FaultProxy(server.port, seed=0, lifetime=600)
    cli = Cli(server, tmp_path / "client")
    cli.env["DEVICEFLOW_AUTHORITY"] = f"{proxy.base_url}/contoso"
    try:
        yield Rig(rotation, server, proxy, cli, FileTokenCache(cli.cache, lock_timeout=5.0))
    finally:
        proxy.close()
        server.stop()


def test_token_refresh_survives_sigkill(rig: Rig) -> None:
    rotation = rig.rotation
    seed = crash_seed()
    rng = random.Random(seed)
    rig.login()
    started = time.monotonic()
    rig.cli.run(*FORCE_REFRESH)  # one clean run, to time it
    runtime = time.monotonic() - started
    counts = dict.fromkeys(
        ("sigkills", "exited_first", "holds_old", "holds_new", "saved_token_works"), 0
    )
    lost_in_flight = lost_in_memory = 0
    for iteration in range(REFRESH_KILLS):
        where = f"rotation={rotation} seed={seed} iteration={iteration}"
        entry = rig.cache.load(PROFILE)
        assert entry is not None and entry.refresh_token, where
        old = entry.refresh_token
        seen = len(rig.proxy.exchanges)
        process = rig.cli.start(*FORCE_REFRESH)
        if iteration % 2:  # anywhere in the run
            time.sleep(rng.uniform(0, runtime))
        else:  # just after the refresh request reached the server
            deadline = time.monotonic() + runtime * 3
            while len(rig.proxy.exchanges) == seen and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.04))
        process.send_signal(signal.SIGKILL)
        _, err = process.communicate(timeout=30)
        if process.returncode != -signal.SIGKILL:  # it finished first: no crash to judge
            counts["exited_first"] += 1
            if process.returncode != 0 or "Traceback" in err:
                rig.problems.append(f"exit {process.returncode}: {err.strip()[-300:]} ({where})")
            continue
        counts["sigkills"] += 1
        try:
            after = rig.cache.load(PROFILE)
        except Exception as exc:
            rig.problems.append(f"cache unreadable after the kill: {exc!r} ({where})")
            break
        if after is None or not after.refresh_token:
            rig.problems.append(f"no refresh token after the kill ({where})")
            break
        kept_old = after.refresh_token == old
        counts["holds_old" if kept_old else "holds_new"] += 1
        # A request sent just before the kill may still be on its way to the server.
        assert rig.proxy.settle(), f"the proxy did not settle ({where})"
        refreshes = [e for e in rig.proxy.exchanges[seen:] if e.kind == "refresh"]
        rotated = any(e.upstream_status == 200 for e in refreshes)
        if rig.refresh_in_process():
            counts["saved_token_works"] += 1
            continue
        if rotation == "strict" and kept_old and rotated:
            lost_in_flight += 1  # the new token died with the process: see the docstring
            lost_in_memory += any(e.delivered for e in refreshes)
            rig.login()
            continue
        state = f"kept_old={kept_old} rotated={rotated}"
        rig.problems.append(f"the saved refresh token was refused ({state}; {where})")
        rig.login()
    figures.record(
        "Cache under crashes",
        f"deviceflow token refresh, {rotation} rotation",
        sigkills=counts["sigkills"],
        cache_readable=counts["holds_old"] + counts["holds_new"],
        refresh_token_lost=len(rig.problems),
        exited_before_kill=counts["exited_first"],
        holds_old=counts["holds_old"],
        holds_new=counts["holds_new"],
        saved_token_works=counts["saved_token_works"],
        lost_in_flight=lost_in_flight,
        of_which_answer_delivered=lost_in_memory,
    )
    assert not rig.proxy.errors, rig.proxy.errors
    assert not rig.problems, "\n".join(rig.problems)
    if rotation == "microsoft":
        assert lost_in_flight == 0
    assert counts["sigkills"] > 0, f"no run was killed (seed={seed})"
