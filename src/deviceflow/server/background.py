"""``deviceflow serve --background``: start the server as a child, return once it listens.

Theory of operation. A server started with the shell's ``&`` shares the terminal with whatever
runs next: its log lines land in the middle of ``deviceflow login``'s countdown, and a command
typed (or pasted) right after it races the server's start. ``--background`` avoids both. This
process starts the same ``deviceflow serve`` command without ``--background`` as a child in its
own session (so a Ctrl-C in the terminal does not reach it), with stdin closed and stdout and
stderr appended to ``--log-file``. It then reads that file until the child prints its
"listening on" block (:data:`READY`) or exits, echoes what the child printed so far (the
development banner with the demo credentials, the address, the issuers) and returns: 0 with the
child running and its PID printed, or the child's own exit code when it stopped during start-up.
After that nothing the server writes reaches the terminal.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from deviceflow.cli.errors import EXIT_SERVER

__all__ = ["READY", "child_arguments", "start_in_background"]

READY = "deviceflow server listening on "
"""The start of the line the server prints once its socket listens (then its issuer lines)."""

_START_TIMEOUT = 60.0


def child_arguments(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--background`` (the child runs in the foreground of its session)."""
    return [arg for arg in argv if arg != "--background"]


def _exit_code(pid: int) -> int | None:
    """The child's exit code once it has ended, else None (it still runs)."""
    ended, status = os.waitpid(pid, os.WNOHANG)
    return os.waitstatus_to_exitcode(status) if ended else None


def _ready(text: str) -> bool:
    # The listening line and the issuer lines are printed in one write, so once the text holds
    # READY and ends a line, the block is complete.
    return READY in text and text.endswith("\n")


def start_in_background(
    argv: Sequence[str],
    log_file: Path,
    *,
    out: TextIO,
    err: TextIO,
    timeout: float = _START_TIMEOUT,
) -> int:
    """Run ``deviceflow serve argv`` (minus ``--background``) as a detached child.

    Args:
        argv: the ``serve`` arguments as given (they hold ``--log-file``).
        log_file: where the child's output and log records go (appended).
        out: where the child's start-up output is echoed and its PID printed.
        err: where a failed start is explained.
        timeout: seconds to wait for the child to listen.

    Returns:
        0 once the child listens; else the child's exit code (or 7 when it neither listened nor
        exited within ``timeout``, after stopping it).

    Raises:
        OSError: the log file cannot be opened.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    start = log_file.stat().st_size if log_file.exists() else 0
    command = [sys.executable, "-m", "deviceflow", "serve", *child_arguments(argv)]
    # posix_spawn, not subprocess.Popen: the child outlives this process on purpose, and a
    # Popen object dropped while its child runs is reported as a leak.
    null = os.open(os.devnull, os.O_RDONLY)
    sink = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        pid = os.posix_spawn(
            sys.executable,
            command,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, null, 0),
                (os.POSIX_SPAWN_DUP2, sink, 1),
                (os.POSIX_SPAWN_DUP2, sink, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(null)
        os.close(sink)
    deadline = time.monotonic() + timeout
    text = ""
    while True:
        with open(log_file, "rb") as log:
            log.seek(start)
            text = log.read().decode("utf-8", errors="replace")
        if _ready(text):
            out.write(text)
            print(
                f"deviceflow serve: running in the background (pid {pid}); its log goes to"
                f" {log_file}; stop it with: kill {pid}",
                file=out,
                flush=True,
            )
            return 0
        code = _exit_code(pid)
        if code is not None:
            err.write(text)
            print(f"deviceflow serve: the server stopped during start-up (exit code {code})",
                  file=err, flush=True)  # fmt: skip
            return code
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
            err.write(text)
            print(f"deviceflow serve: the server did not listen within {timeout:g} s", file=err)
            return EXIT_SERVER
        time.sleep(0.05)
