"""A real, headless Secret Service for keyring tests: a private D-Bus session bus and an unlocked
GNOME Keyring daemon, both started (and stopped, by PID) by the test.

The bus has its own configuration with no service directory, so nothing is auto-activated: the
only ``org.freedesktop.secrets`` on it is the daemon started here, with a throw-away login keyring
in a temporary home. Locally a missing ``dbus-daemon``/``gnome-keyring-daemon`` skips; in CI
(``CI=true``) it fails (:func:`tests.support.tools.missing`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.tools import missing

__all__ = ["headless_keyring_backend", "reselect_keyring_backend", "running_secret_service"]

_HINT = "apt-get install dbus-daemon gnome-keyring, or run .ci/run"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def reselect_keyring_backend() -> None:
    """Make the ``keyring`` package choose its backend again from the current environment
    (it remembers which backends were viable the first time it looked)."""
    import keyring.backend
    import keyring.core

    reset = getattr(keyring.backend.get_all_keyring, "reset", None)
    if reset is not None:
        try:
            reset()
        except KeyError:  # nothing remembered yet
            pass
    keyring.core.init_backend()


@contextmanager
def headless_keyring_backend(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Iterator[None]:
    """The real keyring package, choosing its backend as on a headless box (no D-Bus session,
    no keyring configuration; its configuration folders in ``folder``), for the block."""
    import keyring

    previous = keyring.get_keyring()
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(folder / "data"))
    reselect_keyring_backend()
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a daemon ignoring SIGTERM
            proc.kill()
            proc.wait(timeout=10)


def _has_owner(address: str, name: str) -> bool:
    from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped]
    from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

    bus = DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus")
    try:
        with open_dbus_connection(address) as conn:
            reply = conn.send_and_get_reply(new_method_call(bus, "NameHasOwner", "s", (name,)))
    except OSError:
        return False
    return bool(reply.body[0])


@contextmanager
def running_secret_service(base: Path, *, timeout: float = 20.0) -> Iterator[dict[str, str]]:
    """Start the bus and the keyring daemon under ``base``; yield the environment variables a
    client needs (``DBUS_SESSION_BUS_ADDRESS`` and the XDG/home directories)."""
    dbus = shutil.which("dbus-daemon")
    daemon = shutil.which("gnome-keyring-daemon")
    if dbus is None or daemon is None:
        missing("a Secret Service (dbus-daemon and gnome-keyring-daemon)", _HINT)
        raise AssertionError("unreachable")  # pragma: no cover
    home, runtime = base / "home", base / "run"
    for folder in (home, runtime, home / ".local" / "share", home / ".config"):
        folder.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    socket = runtime / "bus"
    config = base / "bus.conf"
    config.write_text(_BUS_CONFIG.format(socket=socket), encoding="utf-8")
    address = f"unix:path={socket}"
    env = {
        "DBUS_SESSION_BUS_ADDRESS": address,
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
    }
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GNOME_KEYRING", "DBUS_"))}
    full_env.update(env)
    bus = subprocess.Popen(
        [dbus, f"--config-file={config}", "--nofork", "--nopidfile"],
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    keyring_daemon: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + timeout
        while not socket.exists():
            if bus.poll() is not None or time.monotonic() > deadline:
                missing("a private D-Bus session bus", f"dbus-daemon exited or hung; {_HINT}")
            time.sleep(0.05)
        keyring_daemon = subprocess.Popen(
            [daemon, "--foreground", "--unlock", "--components=secrets"],
            env=full_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert keyring_daemon.stdin is not None
        keyring_daemon.stdin.write(b"test-keyring-password")  # the throw-away login keyring's
        keyring_daemon.stdin.close()
        while not _has_owner(address, "org.freedesktop.secrets"):
            if keyring_daemon.poll() is not None or time.monotonic() > deadline:
                missing("gnome-keyring-daemon on a private bus", f"it did not start; {_HINT}")
            time.sleep(0.05)
        yield env
    finally:
        if keyring_daemon is not None:
            _stop(keyring_daemon)
        _stop(bus)
