"""What ``import deviceflow`` and ``deviceflow token`` load: the heavy modules stay out.

Start-up time is what a device or a script pays on every run (``bench/`` measures it); these
tests pin the reason it is small: the package resolves its public names on first use, and a
cached token is printed without the client, the transports, TLS or logging. No timing here:
only which modules a fresh interpreter has loaded.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deviceflow.cache import AccessToken, CacheEntry
from deviceflow.cache.file import FileTokenCache
from deviceflow.cli.state import ProfileState

HEAVY = ("asyncio", "email", "http.client", "logging", "ssl", "urllib.request")
"""Loaded only when a request is actually sent (or a library user imports them)."""

TOKEN_PATH_FREE = (
    *HEAVY,
    "argparse",
    "collections",  # base.py takes Mapping from _collections_abc, loaded at start-up
    "configparser",
    "contextlib",
    "enum",
    "functools",
    "json",  # the cache and state files are read by deviceflow._jsonread (json's C scanner)
    "re",
    "dataclasses",
    "inspect",
    "pathlib",
    "threading",
    "typing",
    "urllib.parse",
    "ipaddress",
    "deviceflow.cache._protocol",
    "deviceflow.cache.memory",
    "deviceflow.client",
    "deviceflow.transports",
    "deviceflow.core._codec",  # _timing imports it only to decode an answer
    "deviceflow.core._authority",  # the core resolves its names on first use: the errors and
    "deviceflow.core._events",  # REFRESH_MARGIN do not load the flow, its events or discovery
    "deviceflow.core._flow",
)
"""Not needed to print a cached token either: the records and settings are plain classes, paths
are ``os.path`` strings, the lock is a small class, URLs are checked by the core's ``split_url``,
and there is no config file to parse; the JSON files are read without :mod:`json` (and so
without ``re``, ``enum`` and ``functools``, which it imports)."""

# The modules are listed before the report itself imports json.
_REPORT = (
    "import sys; sys.stderr.flush(); _found = sorted(m for m in sys.modules if m in {heavy!r})\n"
    "import json; print(json.dumps(_found))"
)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICEFLOW_")}
    env.update(extra)
    return env


def _loaded_after(
    code: str, env: dict[str, str] | None = None, watched: tuple[str, ...] = HEAVY
) -> list[str]:
    script = code + "\n" + _REPORT.format(heavy=set(watched))
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env or _clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_import_deviceflow_loads_no_heavy_module() -> None:
    assert _loaded_after("import deviceflow") == []


def test_import_deviceflow_loads_no_submodule() -> None:
    code = (
        "import deviceflow, sys\n"
        "found = sorted(m for m in sys.modules if m.startswith('deviceflow.'))\n"
        "assert found == [], found"
    )
    subprocess.run([sys.executable, "-c", code], env=_clean_env(), check=True, timeout=60)


FIRST_USE_FREE = (
    *HEAVY,
    "dataclasses",
    "enum",
    "hashlib",
    "inspect",
    "ipaddress",
    "json",
    "re",
    "typing",
    "urllib.parse",
)
"""Not needed to build a client and its urllib transport: TLS, http.client, urllib and json come
with the first request or answer, hashlib with the first code, typing never (annotations only)."""

SENT = ("http.client", "ssl", "urllib.parse", "urllib.request")
"""What the first request loads (the proof that the modules above are deferred, not dropped)."""

_FIRST_USE = (
    "from deviceflow import DeviceFlowClient, UrllibTransport\n"
    "client = DeviceFlowClient('diet-device', transport=UrllibTransport())\n"
    "assert DeviceFlowClient.__module__ == 'deviceflow.client'\n"
)


def test_first_use_loads_nothing_a_request_does_not_need_yet() -> None:
    # (Not the asyncio client: asyncio, which it needs at once to sleep, loads ssl itself.)
    for code in (_FIRST_USE, "from deviceflow import DeviceFlowClient\nDeviceFlowClient('x')"):
        assert _loaded_after(code, watched=FIRST_USE_FREE) == [], code


def test_first_request_loads_the_transport_and_no_logging() -> None:
    # A port that is bound but not listening: the connection is refused, after urllib has run.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        code = (
            _FIRST_USE + "from deviceflow import ConnectError, Endpoints\n"
            "client = DeviceFlowClient('diet-device', transport=UrllibTransport(), endpoints="
            f"Endpoints(device_authorization_url='http://127.0.0.1:{port}/devicecode',"
            f" token_url='http://127.0.0.1:{port}/token'))\n"
            "try:\n    client.refresh('diet-refresh')\nexcept ConnectError:\n    pass\n"
            "else:\n    raise AssertionError('the port answered')\n"
        )
        loaded = _loaded_after(code, watched=(*SENT, "logging"))
    # Nothing configured logging, so the client's INFO lines had nowhere to go: not loaded.
    assert loaded == sorted(SENT)


@pytest.fixture
def cached_token_env(tmp_path: Path) -> dict[str, str]:
    cache = FileTokenCache(tmp_path / "cache")
    cache.save(
        "default",
        CacheEntry(
            client_id="diet-device",
            token_url="http://127.0.0.1:9/token",
            device_authorization_url="http://127.0.0.1:9/devicecode",
            scopes=("openid",),
            refresh_token="diet-refresh",
            access_tokens=(AccessToken(token="diet-access", expires_at=time.time() + 3600),),
            updated_at=time.time(),
        ),
    )
    return _clean_env(
        DEVICEFLOW_CACHE=str(tmp_path / "cache"),
        DEVICEFLOW_CLI_CONFIG=str(tmp_path / "none.ini"),
        DEVICEFLOW_CLIENT_ID="diet-device",
        DEVICEFLOW_ISSUER="http://127.0.0.1:9",
    )


@pytest.fixture
def remembered_env(cached_token_env: dict[str, str]) -> dict[str, str]:
    """The cached token's profile with the settings a login remembers, and no setting given."""
    directory = cached_token_env["DEVICEFLOW_CACHE"]
    ProfileState(directory, "default").update(
        settings={"client_id": "diet-device", "issuer": "http://127.0.0.1:9", "scope": "openid"},
        last_refresh_at=time.time(),
    )
    env = dict(cached_token_env)
    del env["DEVICEFLOW_CLIENT_ID"], env["DEVICEFLOW_ISSUER"]
    return env


def test_token_with_remembered_settings_loads_no_heavy_module(
    remembered_env: dict[str, str],
) -> None:
    cache = remembered_env["DEVICEFLOW_CACHE"]
    code = (
        "import sys, io\n"
        "from deviceflow.cli import main\n"
        "from deviceflow.cli.state import remembered\n"
        "out = sys.stdout = io.StringIO()\n"
        "rc = main(['token'])\n"
        "sys.stdout = sys.__stdout__\n"
        "assert rc == 0 and out.getvalue() == 'diet-access\\n', (rc, out.getvalue())\n"
        f"assert remembered({cache!r}, 'default')['scope'] == 'openid'\n"
    )
    assert _loaded_after(code, remembered_env, TOKEN_PATH_FREE) == []


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["token"], id="plain"),
        pytest.param(["token", "--min-validity", "30", "--profile=default"], id="flags"),
        pytest.param(["token", "--scope", "openid", "--debug"], id="scope"),
    ],
)
def test_token_from_cache_loads_no_heavy_module(
    cached_token_env: dict[str, str], argv: list[str]
) -> None:
    code = (
        "import sys, io\n"  # not contextlib: the token path must not need it
        "from deviceflow.cli import main\n"
        "out = sys.stdout = io.StringIO()\n"
        f"rc = main({argv!r})\n"
        "sys.stdout = sys.__stdout__\n"
        "assert rc == 0 and out.getvalue() == 'diet-access\\n', (rc, out.getvalue())\n"
    )
    assert _loaded_after(code, cached_token_env, TOKEN_PATH_FREE) == []


def test_token_through_python_m_prints_the_cached_token(
    cached_token_env: dict[str, str],
) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "deviceflow", "token"],
        env=cached_token_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "diet-access\n"
    names = [
        line.split("|")[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    ]
    # runpy (``-m``) imports contextlib, functools and more itself, before deviceflow: count what
    # came after the package (the report lists a module once its own imports are done).
    imported = set(names[names.index("deviceflow") + 1 :])
    assert "deviceflow.cache.file" in imported  # the importtime report is what we think it is
    assert imported.isdisjoint(TOKEN_PATH_FREE)


def test_token_with_an_unknown_flag_takes_the_full_parser(
    cached_token_env: dict[str, str],
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "deviceflow", "token", "--no-such-flag"],
        env=cached_token_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--no-such-flag" in proc.stderr


def test_token_skips_the_exit_collection_only_as_the_process_command_line(
    cached_token_env: dict[str, str],
) -> None:
    code = (
        "import gc, io, sys\n"
        "from deviceflow.cli import main\n"
        "out = sys.stdout = io.StringIO()\n"
        "assert main(['token']) == 0 and gc.get_freeze_count() == 0  # called by a program\n"
        "assert gc.isenabled()  # the collector, paused for the command, is back on\n"
        "sys.argv[1:] = ['token']\n"
        "assert main() == 0 and gc.get_freeze_count() > 0  # the console script\n"
        "sys.stdout = sys.__stdout__\n"
        "assert out.getvalue() == 'diet-access\\n' * 2, out.getvalue()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=cached_token_env, check=True, timeout=60)
