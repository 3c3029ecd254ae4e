"""``deviceflow demo``: the embedded server and a sign-in against it, end to end.

Starts ``deviceflow serve`` (development setup, SQLite in a temporary directory) as a child
process, waits until it listens, signs in against it exactly like ``deviceflow login`` (panel, QR
code, countdown, or ``--json`` events), prints the user from Graph ``/v1.0/me`` and how to use
``deviceflow token``, then stops the server and removes the temporary directory. With
``--host 0.0.0.0`` the URLs use this machine's LAN address so a phone on the same network can
open them.
"""

from __future__ import annotations

import argparse
import os
import queue
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from deviceflow.cli.context import Context
from deviceflow.cli.errors import ServerError, UsageError

__all__ = ["demo", "lan_address", "path_hint", "running_server"]

SERVER_HINT = "deviceflow demo needs the server extra: pip install 'deviceflow[server]'"
_START_TIMEOUT = 60.0


def lan_address() -> str:
    """This machine's address on its LAN (the source address of its default route).

    Connecting a UDP socket sends nothing; it only asks the kernel which local address it would
    use. ``127.0.0.1`` when there is no route.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed on the Internet
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def path_hint(environ: Mapping[str, str], scripts: str | None = None) -> str | None:
    """The shell line that puts this installation's ``deviceflow`` on ``PATH``, or None when
    ``deviceflow`` already runs it (so the closing hint works as printed).

    ``scripts`` is where this installation's commands are (default: the running Python's).
    In a virtual environment the line is its ``activate`` script (``. /abs/.venv/bin/activate``,
    what ``make demo`` needs); otherwise an ``export PATH=...``.
    """
    folder = Path(scripts or sysconfig.get_path("scripts"))
    found = shutil.which("deviceflow", path=environ.get("PATH", ""))
    if found is not None and Path(found).resolve() == (folder / Path(found).name).resolve():
        return None
    activate = folder / "activate"
    if activate.is_file():
        return f". {shlex.quote(str(activate))}"
    return f'export PATH={shlex.quote(str(folder))}:"$PATH"'


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@contextmanager
def running_server(host: str, port: int, data_dir: Path, public_host: str) -> Iterator[str]:
    """Run ``deviceflow serve`` in the background; yield its base URL; stop it afterwards.

    Raises:
        ServerError: it exited or did not listen within a minute.
    """
    base = f"http://{public_host}:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEVICEFLOW_CONFIG", "DEVICEFLOW_DB_URL", "DEVICEFLOW_SECRET_KEY")
    }
    env.update({"DEVICEFLOW_DATA_DIR": str(data_dir), "DEVICEFLOW_PUBLIC_URL": base})
    log = open(data_dir / "server.log", "w", encoding="utf-8")
    command = [sys.executable, "-m", "deviceflow", "serve", "--host", host, "--port", str(port)]
    command += ["--db", f"sqlite:///{data_dir / 'demo.db'}", "--log-level", "warning"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert proc.stdout is not None
    pump = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    pump.start()
    try:
        while True:
            try:
                line = lines.get(timeout=_START_TIMEOUT)
            except queue.Empty:
                raise ServerError("the demo server did not start within a minute") from None
            if line is None:
                log.flush()
                detail = (data_dir / "server.log").read_text(encoding="utf-8").strip()
                tail = detail.splitlines()[-1] if detail else f"exit code {proc.wait()}"
                raise ServerError(f"the demo server stopped: {tail}")
            if "listening on" in line:
                break
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
            proc.kill()
            proc.wait()
        pump.join(5)  # the pipe reaches end-of-file once the server has exited
        proc.stdout.close()
        log.close()


def demo(ctx: Context, args: argparse.Namespace) -> int:
    """Run the demo (see the module docstring).

    Raises:
        UsageError: the server extra is not installed.
        ServerError: the server did not start.
        DeviceFlowError: the sign-in failed.
    """
    try:
        from deviceflow.server.settings import DEMO_CLIENT_ID, Settings
    except ImportError as exc:  # pragma: no cover - the dev install has the extra
        raise UsageError(SERVER_HINT) from exc
    from deviceflow.cli.app import login_options
    from deviceflow.cli.commands import graph_client
    from deviceflow.cli.login import run_login
    from deviceflow.cli.settings import DEFAULT_SCOPES
    from deviceflow.cli.tokens import TokenManager

    host = args.host
    public_host = lan_address() if host in ("0.0.0.0", "::") else host
    port = args.port or _free_port("127.0.0.1" if host in ("0.0.0.0", "::") else host)
    human = ctx.say if args.json else ctx.out
    workdir = Path(tempfile.mkdtemp(prefix="deviceflow-demo-"))
    try:
        os.chmod(workdir, 0o700)
        with running_server(host, port, workdir, public_host) as base:
            credentials = Settings.development(workdir).dev_credentials
            human(f"deviceflow demo: a development server is running at {base}")
            if host in ("0.0.0.0", "::"):
                human(f"  reachable on your network at {base} (open it on your phone)")
            for username, password in credentials[:1]:
                human(f"  demo user: {username}   password: {password}")
            human("")
            settings = ctx.settings.replace(
                profile="demo",
                client_id=DEMO_CLIENT_ID,
                issuer=None,
                authority=base,
                tenant="organizations",
                scopes=DEFAULT_SCOPES,
                resource=None,
                graph_url=base,
                cache_dir=str(workdir / "cache"),
            )
            run_ctx = Context(world=ctx.world, settings=settings, debug=ctx.debug)
            run_login(run_ctx, login_options(args), again="deviceflow demo")
            manager = TokenManager(
                run_ctx.cache(), "demo", transport=run_ctx.transport, clock=ctx.world.clock
            )
            user = graph_client(run_ctx, manager).get("/v1.0/me")
            name = user.get("displayName") if isinstance(user, dict) else None
            upn = user.get("userPrincipalName") if isinstance(user, dict) else None
            human("")
            human(f"Graph {base}/v1.0/me says: {name} ({upn})")
            human("")
            human("From now on a script gets a fresh token silently, for example:")
            hint = path_hint(ctx.world.environ)
            if hint is not None:
                human(f"  {hint}    # puts deviceflow on your PATH in this shell")
            human(
                '  curl -H "Authorization: Bearer $(deviceflow token)" '
                "https://graph.microsoft.com/v1.0/me"
            )
            human("(after `deviceflow login --client-id ID` against your own tenant; see README)")
        human("The demo server has stopped.")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
