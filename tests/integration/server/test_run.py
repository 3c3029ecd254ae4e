"""``deviceflow serve`` in this process: arguments, settings, banner, and a real start/stop."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from deviceflow.server import run, serving
from deviceflow.server.settings import DEMO_TENANT_GUID, Settings
from tests.support.tools import free_port


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--help"]) == 0
    assert "--config" in capsys.readouterr().out


def test_bad_argument_is_a_usage_error() -> None:
    assert run.main(["--port", "not-a-number"]) == 2


def test_invalid_config_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[tenants]]\nid = "x"\ndialect = "nope"\n')
    assert run.main(["--config", str(config)]) == 2  # usage, on the CLI's table
    assert "tenants[0].dialect" in capsys.readouterr().err


def test_weak_secret_key_is_a_configuration_error_without_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEVICEFLOW_CONFIG", raising=False)
    monkeypatch.setenv("DEVICEFLOW_SECRET_KEY", "tv2024")
    with socket.socket() as busy:  # were the key accepted, the busy port would end the run (6)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert run.main(["--db", "memory:", "--port", str(port), "--log-level", "error"]) == 2
    err = capsys.readouterr().err
    assert "configuration error: secret_key: " in err
    assert "secrets.token_urlsafe(32)" in err
    assert "Traceback" not in err and "tv2024" not in err


def test_load_settings_defaults_public_url_and_db() -> None:
    args = argparse.Namespace(config=None, db="memory:", host="0.0.0.0", port=9999)
    settings = run.load_settings(args, {})
    assert settings.public_url == "http://127.0.0.1:9999"
    assert settings.database_url == "memory:"
    assert settings.is_development


def test_load_settings_without_db_uses_sqlite_in_the_data_home(tmp_path: Path) -> None:
    args = argparse.Namespace(config=None, db=None, host="127.0.0.1", port=9999)
    settings = run.load_settings(args, {"XDG_DATA_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'deviceflow' / 'deviceflow.sqlite3'}"
    home = run.load_settings(args, {"HOME": str(tmp_path)})
    assert home.data_dir == tmp_path / ".local" / "share" / "deviceflow"
    assert "storage: sqlite:///" in run.development_banner(settings)


def test_test_control_flag_turns_it_on(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('[[tenants]]\nid = "t"\n')
    args = argparse.Namespace(config=config, db="memory:", host="127.0.0.1", port=9999)
    assert run.load_settings(args, {}).test_control is False
    args.test_control = True
    assert run.load_settings(args, {}).test_control is True
    token = run.load_settings(args, {"DEVICEFLOW_TEST_CONTROL_TOKEN": "t0ken"}).test_control_token
    assert token == "t0ken"
    assert "--test-control" in run._parser().format_help()


def test_development_banner_is_loud_and_lists_demo_credentials() -> None:
    banner = run.development_banner(Settings.development())
    assert "DEVELOPMENT MODE" in banner
    assert "user: adele  password: adele-password" in banner
    assert "storage: in memory" in banner


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
@pytest.mark.parametrize("db", ["memory:", None], ids=["memory", "default-sqlite"])
def test_serve_answers_then_stops_cleanly_on_sigint(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    db: str | None,
) -> None:
    port = free_port()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("DEVICEFLOW_DATA_DIR", raising=False)
    monkeypatch.delenv("DEVICEFLOW_CONFIG", raising=False)
    monkeypatch.delenv("DEVICEFLOW_PUBLIC_URL", raising=False)
    seen: dict[str, object] = {}

    def client() -> None:
        url = f"http://127.0.0.1:{port}/demo/v2.0/.well-known/openid-configuration"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                seen["status"] = httpx.get(url).status_code
                break
            except httpx.TransportError:
                time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=client)
    thread.start()
    db_args = ["--db", db] if db else []
    code = run.main(["--port", str(port), *db_args, "--log-level", "warning"])
    thread.join()
    captured = capsys.readouterr()
    assert code == 0
    stored = tmp_path / "data" / "deviceflow" / "deviceflow.sqlite3"
    assert stored.exists() is (db is None)
    assert seen["status"] == 200
    assert f"listening on http://127.0.0.1:{port}" in captured.out
    # A Microsoft tenant's issuer is its GUID whatever name a client uses (as Entra): say which.
    issuer = f"http://127.0.0.1:{port}/{DEMO_TENANT_GUID}/v2.0"
    assert f"tenant demo (microsoft): issuer {issuer}" in captured.out
    assert "DEVELOPMENT MODE" in captured.err
    assert "deviceflow serve: test-control API on; token: " in captured.out  # on in development


def test_issuer_lines_name_each_tenant_s_issuer() -> None:
    from deviceflow.server.grant import GrantEngine
    from deviceflow.server.storage.memory import MemoryStorage
    from tests.support.app_harness import CONFIG

    settings = Settings.from_mapping({**CONFIG, "public_url": "https://login.example"})
    engine = GrantEngine(settings, storage=MemoryStorage(), clock=time.time, rng=os.urandom)
    contoso, fabrikam = serving.issuer_lines(settings, engine)
    assert contoso == "tenant contoso (rfc8628): issuer https://login.example/contoso/v2.0"
    guid = settings.tenants[1].guid
    assert fabrikam.startswith(
        f"tenant fabrikam (microsoft): issuer https://login.example/{guid}/v2.0 (under"
    )


def test_serve_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        code = run.main(["--port", str(port), "--db", "memory:", "--log-level", "error"])
    assert code == 6
    assert "cannot listen" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param(["--drain", "-1"], id="negative-drain"),
        pytest.param(["--metrics-address", "nowhere"], id="address-without-port"),
        pytest.param(["--metrics-address", "127.0.0.1:{port}"], id="metrics-on-the-main-port"),
        pytest.param(["--log-format", "xml"], id="unknown-log-format"),
    ],
)
def test_bad_operations_flags_are_refused_without_traceback(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    argv = ["--db", "memory:", "--port", str(port), *(f.format(port=port) for f in flags)]
    assert run.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()


def test_operations_flags_reach_the_settings(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('log_format = "json"\n[[tenants]]\nid = "t"\n')
    args = run._parser().parse_args(
        ["--config", str(config), "--db", "memory:", "--port", "9999",
         "--metrics-address", "127.0.0.1:9464", "--drain", "2.5"]
    )  # fmt: skip
    settings = run.load_settings(args, {})
    assert (settings.metrics, settings.metrics_address) == (True, "127.0.0.1:9464")
    assert (settings.shutdown_drain, settings.log_format) == (2.5, "json")
    plain = run.load_settings(run._parser().parse_args(["--db", "memory:", "--metrics"]), {})
    assert (plain.metrics, plain.metrics_address, plain.shutdown_drain) == (True, None, 0.0)


def test_sigterm_with_drain_answers_readyz_503_then_stops(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port, metrics_port = free_port(), free_port()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("DEVICEFLOW_DATA_DIR", raising=False)
    seen: list[tuple[int, object]] = []
    base = f"http://127.0.0.1:{port}"

    def client() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{base}/readyz")
                seen.append((answer.status_code, answer.json()))
                break
            except httpx.TransportError:
                time.sleep(0.05)
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        seen.append((metrics.status_code, "deviceflow_token_polls_total" in metrics.text))
        os.kill(os.getpid(), signal.SIGTERM)
        while time.monotonic() < deadline:  # draining: still served, not ready
            answer = httpx.get(f"{base}/readyz")
            if answer.status_code == 503:
                seen.append((503, answer.json()))
                seen.append((httpx.get(f"{base}/healthz").status_code, "healthz"))
                break
            time.sleep(0.02)

    thread = threading.Thread(target=client)
    thread.start()
    argv = ["--port", str(port), "--db", "memory:", "--log-level", "warning", "--drain", "2",
            "--metrics-address", f"127.0.0.1:{metrics_port}"]  # fmt: skip
    code = run.main(argv)
    thread.join()
    assert code == 0
    assert seen == [
        (200, {"status": "ready"}),
        (200, True),
        (503, {"status": "unavailable", "reason": "draining"}),
        (200, "healthz"),
    ]
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in capsys.readouterr().out


def test_unsupported_database_url_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run.main(["--db", "mysql://root:pw@x/db", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert "configuration error: --db (db_url): unsupported database URL 'mysql'" in err
    assert "pw@" not in err


def test_background_without_log_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--background"]) == 2
    assert "--background needs --log-file FILE" in capsys.readouterr().err


def test_log_file_that_cannot_be_opened_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run.main(["--log-file", str(tmp_path), "--db", "memory:"]) == 2  # a folder
    assert "deviceflow serve: cannot open the log file: " in capsys.readouterr().err


def test_ready_lines_name_public_url_only_when_it_differs() -> None:
    from deviceflow.server.grant import GrantEngine
    from deviceflow.server.storage.memory import MemoryStorage
    from tests.support.app_harness import CONFIG

    settings = Settings.from_mapping({**CONFIG, "public_url": "https://login.example"})
    engine = GrantEngine(settings, storage=MemoryStorage(), clock=time.time, rng=os.urandom)
    behind = serving.ready_lines(settings, engine, "http://127.0.0.1:8772").splitlines()
    assert behind[:2] == [
        "deviceflow server listening on http://127.0.0.1:8772",
        "public URL (in issuers and links): https://login.example",
    ]
    direct = serving.ready_lines(settings, engine, "https://login.example").splitlines()
    assert direct[0] == "deviceflow server listening on https://login.example"
    assert not any(line.startswith("public URL") for line in direct)


def test_start_in_background_returns_once_listening(tmp_path: Path) -> None:
    import io
    import re

    from deviceflow.server.background import start_in_background

    out, err = io.StringIO(), io.StringIO()
    log = tmp_path / "logs" / "serve.log"
    port = free_port()
    argv = ["--db", "memory:", "--port", str(port), "--log-file", str(log), "--background"]
    assert start_in_background(argv, log, out=out, err=err) == 0, err.getvalue()
    pid = int(re.findall(r"\(pid (\d+)\)", out.getvalue())[-1])
    try:
        assert f"listening on http://127.0.0.1:{port}" in out.getvalue()
        assert httpx.get(f"http://127.0.0.1:{port}/demo/v2.0/.well-known/openid-configuration")
    finally:
        os.kill(pid, signal.SIGTERM)


def test_start_in_background_passes_on_a_failed_start(tmp_path: Path) -> None:
    import io

    from deviceflow.server.background import start_in_background

    out, err = io.StringIO(), io.StringIO()
    log = tmp_path / "serve.log"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        argv = ["--db", "memory:", "--port", str(busy.getsockname()[1]), "--log-file", str(log)]
        assert start_in_background(argv, log, out=out, err=err) == 6
    assert "cannot listen on 127.0.0.1" in err.getvalue()
    assert "the server stopped during start-up (exit code 6)" in err.getvalue()
    assert out.getvalue() == ""
