"""``deviceflow serve --workers N``: one server on one port, N processes answering it.

One Python process answers requests on one core. A fleet of tens of thousands of waiting devices
keeps a core busy with HTTP alone (docs/deployment.md, sizing), and a process near its limit
answers late in bursts. ``--workers N`` runs N copies of the server behind one address:

- **Sockets.** The port is first checked with a plain bind, so a port in use, even one a second
  ``deviceflow serve --workers`` holds, is the usual clean error. Then each worker gets its own
  listening socket on that port with ``SO_REUSEPORT``: the kernel spreads new connections evenly
  over the workers (a shared socket would let whichever process wakes first take a whole burst
  of connections). Linux only; elsewhere ``--workers`` above 1 is refused.
- **Start.** The parent opens the database once before any worker starts (migrations, the
  generated secret key and signing keys are created there, never raced by two workers), closes
  it, then forks the workers. Each opens its own storage and app. A worker announces itself on a
  pipe once it listens; when every worker has, the parent prints the usual ready block once.
- **Shared state.** Everything two workers must agree on lives in the database, as it does for
  several instances of one deployment (docs/deployment.md): keys, sessions, rate-limit counters,
  grants, and the change log that carries each decision to every process's in-memory answers.
  What stays per process: the pacing of too-early polls (as per instance), the access log's
  poll summaries (one line per worker), and the purge schedule (each worker purges, as each
  instance does). The test-control API and the metrics endpoint keep their state in one process:
  with more than one worker both are refused at start.
- **Stop.** SIGINT or SIGTERM to the parent is passed on once to every worker (a worker is in a
  process group of its own, so a terminal's Ctrl-C reaches it through the parent only), each
  drains as a single server does; the parent exits 0 when all have stopped. A worker that dies
  otherwise is started again (at most once a second), unless it died within
  :data:`FAST_DEATH` seconds of starting :data:`GIVE_UP_AFTER` times in a row: then all stop,
  exit 7. A worker that fails before it listens stops them all, with its exit code. A worker
  whose parent is killed stops too (Linux's parent-death signal).
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from deviceflow.cli.errors import EXIT_SERVER
from deviceflow.server.background import READY

logger = logging.getLogger("deviceflow.server")

MAX_WORKERS = 64
"""The most ``--workers`` accepts."""
RESTART_GAP = 1.0
"""Seconds between two starts of the same worker after it died."""
FAST_DEATH = 10.0
"""A worker that dies this many seconds or fewer after it started died fast."""
GIVE_UP_AFTER = 5
"""Fast deaths in a row of one worker after which the server stops (exit 7), so that a service
manager sees it fail rather than a parent restarting a worker that cannot run."""
READY_TIMEOUT = 120.0
"""Seconds every worker has to start listening before the server gives up."""

RunOne = Callable[[socket.socket, TextIO], int]
"""What a worker runs: serve on the socket, write the ready block to the text stream once
listening; the exit code."""


class WorkersError(Exception):
    """``--workers`` cannot be used as asked (the message says why)."""


def check(count: int, *, test_control: bool, metrics: bool) -> None:
    """Refuse a worker count this server cannot run.

    Raises:
        WorkersError: ``count`` is out of range, the platform has no ``SO_REUSEPORT``
            balancing, or a feature that keeps its state in one process is on.
    """
    if not 1 <= count <= MAX_WORKERS:
        raise WorkersError(f"--workers: between 1 and {MAX_WORKERS}, not {count}")
    if count == 1:
        return
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        raise WorkersError("--workers above 1 needs Linux (SO_REUSEPORT)")
    if test_control:
        raise WorkersError("the test-control API keeps its state in one process: --workers 1")
    if metrics:
        raise WorkersError("metrics are counted per process: use --workers 1 with --metrics")


def bind_shared(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one address, the kernel balancing connections over them.

    Raises:
        OSError: The address cannot be bound (in use, even by other ``SO_REUSEPORT`` sockets).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # no SO_REUSEPORT: a plain check
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]  # port 0: the one the system picked, for every worker
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (``PR_SET_PDEATHSIG``)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not glibc: the parent still stops us
        pass


class Supervisor:
    """The parent of ``--workers N``: starts, watches, restarts and stops the workers."""

    def __init__(self, sockets: list[socket.socket], run_one: RunOne, out: TextIO) -> None:
        self.sockets = sockets
        self.run_one = run_one
        self.out = out
        self.pids: dict[int, int] = {}  # pid -> worker index
        self.started: dict[int, float] = {}  # worker index -> monotonic time of its last start
        self.stopping = False
        self.fast_deaths: dict[int, int] = {}  # worker index -> fast deaths in a row

    def _fork(self, index: int, *, announce: bool = True) -> int | None:
        """Start worker ``index``; the read end of its ready pipe (None: not ``announce``, a
        restarted worker, whose ready block goes nowhere)."""
        read, write = os.pipe() if announce else (-1, os.open(os.devnull, os.O_WRONLY))
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                for sig in (signal.SIGINT, signal.SIGTERM):  # not the parent's forwarding
                    signal.signal(sig, signal.SIG_DFL)
                if read >= 0:
                    os.close(read)
                os.setpgid(0, 0)
                _die_with_parent()
                for i, sock in enumerate(self.sockets):
                    if i != index:
                        sock.close()
                with os.fdopen(write, "w", encoding="utf-8", buffering=1) as ready:
                    code = self.run_one(self.sockets[index], ready)
            except BaseException:  # a worker must never return into the parent's code
                logger.exception("worker %d failed", index)
            finally:
                logging.shutdown()
                os._exit(code)
        os.close(write)
        self.pids[pid] = index
        self.started[index] = time.monotonic()
        return read if announce else None

    def _forward(self, sig: int, _frame: object) -> None:
        self.stopping = True
        self._signal_all(sig)

    def _signal_all(self, sig: int) -> None:
        for pid in list(self.pids):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        """Start every worker, print the ready block once all listen, serve until stopped."""
        if threading.active_count() > 1:  # forking a threaded process copies held locks
            logger.warning("forking workers while %d threads run", threading.active_count())
        previous = {
            sig: signal.signal(sig, self._forward) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            pipes = {}
            for index in range(len(self.sockets)):
                fd = self._fork(index)
                assert fd is not None
                pipes[fd] = index
            code = self._await_ready(pipes)
            if code is not None:
                self._stop_all()
                return code
            return self._watch()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _await_ready(self, pipes: dict[int, int]) -> int | None:
        """Read each worker's ready block; print worker 0's. None when all listen, else the
        exit code of a worker that stopped first (or 1 on a timeout)."""
        blocks: dict[int, str] = {}
        texts = {fd: "" for fd in pipes}
        deadline = time.monotonic() + READY_TIMEOUT
        try:
            while len(blocks) < len(pipes):
                if self.stopping:
                    return 0
                failed = self._reap_failed()
                if failed is not None:
                    return failed
                waiting = [fd for fd in pipes if pipes[fd] not in blocks]
                ready, _, _ = select.select(waiting, [], [], 0.1)
                for fd in ready:
                    chunk = os.read(fd, 65536).decode("utf-8", "replace")
                    texts[fd] += chunk
                    if READY in texts[fd] and texts[fd].endswith("\n"):
                        blocks[pipes[fd]] = texts[fd]
                if time.monotonic() > deadline:
                    print("deviceflow serve: the workers did not start in time", file=sys.stderr)
                    return 1
        finally:
            for fd in pipes:
                os.close(fd)
        pids = " ".join(str(pid) for pid in sorted(self.pids))
        self.out.write(blocks[0] + f"workers: {len(self.sockets)} processes (pids {pids})\n")
        self.out.flush()
        return None

    def _reap_failed(self) -> int | None:
        """The exit code of a worker that ended before listening, if one did."""
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return None
        index = self.pids.pop(pid, None)
        code = os.waitstatus_to_exitcode(status)
        logger.error("worker %s stopped before it listened (exit code %d)", index, code)
        return code if code > 0 else 1

    def _watch(self) -> int:
        """Wait for the workers; start one again if it dies while no stop was asked, unless it
        died fast :data:`GIVE_UP_AFTER` times in a row (then all stop: exit 7)."""
        while self.pids:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            index = self.pids.pop(pid, None)
            if index is None or self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            lived = time.monotonic() - self.started[index]
            fast = self.fast_deaths[index] = (
                self.fast_deaths.get(index, 0) + 1 if lived <= FAST_DEATH else 0
            )
            if fast >= GIVE_UP_AFTER:
                print(
                    f"deviceflow serve: worker {index} died {fast} times in a row, each within"
                    f" {FAST_DEATH:g} s of starting (last exit code {code}): stopping",
                    file=sys.stderr,
                    flush=True,
                )
                self._stop_all()
                return EXIT_SERVER
            logger.error(
                "worker %d (pid %d) died (exit code %d): starting it again", index, pid, code
            )
            gap = RESTART_GAP - lived
            if gap > 0:
                time.sleep(gap)  # a worker that dies at once must not spin the parent
            if not self.stopping:
                self._fork(index, announce=False)
        return 0

    def _stop_all(self) -> None:
        self.stopping = True
        self._signal_all(signal.SIGTERM)
        for pid in list(self.pids):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.pids.clear()


def serve_workers(
    host: str,
    port: int,
    count: int,
    prepare: Callable[[], int | None],
    run_one: RunOne,
    out: TextIO,
) -> int:
    """Bind ``count`` sockets on ``host:port``, run ``prepare`` (an exit code stops here), then
    the workers until stopped; the exit code.

    Raises:
        OSError: The address cannot be bound.
    """
    sockets = bind_shared(host, port, count)
    try:
        failed = prepare()
        if failed is not None:
            return failed
        return Supervisor(sockets, run_one, out).run()
    finally:
        for sock in sockets:
            sock.close()
