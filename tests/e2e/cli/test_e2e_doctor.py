"""``deviceflow doctor`` against every failure the server emulates: one table, real processes.

Failures of the app registration or the tenant show at once (doctor asks for a device code and
abandons it). Failures of a sign-in show at the next refresh: the profile signs in once, then for
each case the server restarts with the case's switch (same database) and ``deviceflow token``
meets the refusal that ``doctor`` then explains. The RFC-dialect cases record a refused refresh,
a denied sign-in and an expired code.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli.harness import Cli, approve, read_event
from tests.e2e.cli.services import server_config
from tests.support.serverproc import ServerProcess
from tests.support.tools import chromium_browser

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cli-e2e")]


@dataclass(frozen=True)
class Case:
    key: str  # the diagnosis doctor must give
    exit_code: int
    check: str  # the failed check that carries it
    config: dict[str, str]  # server_config keywords (besides the defaults)
    setting: dict[str, str]  # environment for the CLI (another client, tenant ...)
    tenant: str = "fabrikam"
    signed_in: bool = False  # a signed-in profile meets the failure at its next refresh


def _now() -> str:
    return repr(time.time())


# A value of "{now}" in a config keyword becomes the time the case runs.
CASES = [
    Case("AADSTS700016", 2, "client", {}, {"DEVICEFLOW_CLIENT_ID": "no-such-app"}),
    Case("AADSTS7000218", 2, "client", {}, {"DEVICEFLOW_CLIENT_ID": "confidential"}),
    Case("AADSTS90002", 2, "tenant", {}, {}, tenant="nowhere"),
    Case("AADSTS53003", 4, "client", {}, {}, tenant="blocked"),
    Case("AADSTS70043", 3, "sign-in", {"fabrikam": "sign_in_frequency = 1"}, {}, signed_in=True),
    Case("AADSTS50076", 3, "sign-in", {"fabrikam": "mfa_required_from = {now}"}, {},
         signed_in=True),
    Case("AADSTS50173", 3, "sign-in", {"erin": "sessions_valid_from = {now}"}, {}, signed_in=True),
    Case("AADSTS65001", 4, "sign-in", {"client": "consent_required = true"}, {}, signed_in=True),
    Case("AADSTS53003", 4, "sign-in", {"fabrikam": "device_code_refresh = false"}, {},
         signed_in=True),
    Case("AADSTS700082", 3, "sign-in", {"lifetimes": "refresh_token = 1"}, {}, signed_in=True),
    Case("invalid_grant", 3, "sign-in", {"contoso": "mfa_required_from = {now}"}, {},
         tenant="contoso", signed_in=True),
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[dict[str, Any]]:
    """One server and two signed-in profiles (Microsoft and RFC tenants), kept as templates."""
    folder = tmp_path_factory.mktemp("doctor")
    server = ServerProcess(folder=folder, config=server_config(folder))
    server.start()
    templates = {}
    try:
        for tenant in ("fabrikam", "contoso"):
            cli = Cli(server, folder / f"template-{tenant}", tenant=tenant)
            proc = cli.start("login", "--json", "--timeout", "60")
            assert proc.stdout is not None
            approve(browser, read_event(proc.stdout)["verification_uri_complete"])
            assert proc.wait(60) == 0
            proc.stdout.close()
            assert proc.stderr is not None
            proc.stderr.close()
            templates[tenant] = cli.cache
        yield {"server": server, "folder": folder, "templates": templates}
    finally:
        server.stop()


def restart(server: ServerProcess, folder: Path, config: dict[str, str]) -> None:
    server.stop()
    filled = {k: v.replace("{now}", _now()) for k, v in config.items()}
    server.config = server_config(folder, **filled)
    server.start()


def doctor(cli: Cli) -> tuple[int, dict[str, Any]]:
    done = cli.run("doctor", "--json")
    return done.returncode, json.loads(done.stdout)


def test_doctor_healthy_profile_exits_0(world: dict[str, Any], tmp_path: Path) -> None:
    restart(world["server"], world["folder"], {})
    cli = Cli(world["server"], tmp_path, tenant="fabrikam")
    shutil.copytree(world["templates"]["fabrikam"], cli.cache)
    code, report = doctor(cli)
    assert code == 0, report
    assert report["healthy"] and report["diagnosis"] is None
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses == dict.fromkeys(
        ("cache", "settings", "dns", "network", "clock", "tenant", "client", "sign-in"), "ok"
    )
    human = cli.run("doctor")
    assert human.returncode == 0 and "Summary: healthy" in human.stdout


@pytest.mark.parametrize("case", CASES, ids=[f"{c.key}-{c.check}" for c in CASES])
def test_doctor_explains_each_emulated_failure(
    world: dict[str, Any], browser: Any, tmp_path: Path, case: Case
) -> None:
    server: ServerProcess = world["server"]
    restart(server, world["folder"], case.config)
    cli = Cli(server, tmp_path, tenant=case.tenant)
    cli.env.update(case.setting)
    if case.signed_in:
        shutil.copytree(world["templates"][case.tenant], cli.cache)
        if "lifetimes" in case.config:  # idle expiry: a new sign-in with the short lifetime
            shutil.rmtree(cli.cache)
            _sign_in_again(cli, browser)
            time.sleep(1.5)
        token = cli.run("token", "--min-validity", "1000000")  # forces a refresh
        assert token.returncode == 3, token.stderr
    code, report = doctor(cli)
    assert report["diagnosis"] is not None, report
    assert report["diagnosis"]["key"] == case.key
    assert code == case.exit_code == report["exit_code"]
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert failed[0]["name"] == case.check
    assert case.key in failed[0]["detail"]
    human = cli.run("doctor")
    assert human.returncode == case.exit_code
    assert f"Diagnosis: {case.key}" in human.stdout and "next step:" in human.stdout


def _sign_in_again(cli: Cli, browser: Any) -> None:
    proc = cli.start("login", "--json", "--timeout", "60")
    assert proc.stdout is not None
    approve(browser, read_event(proc.stdout)["verification_uri_complete"])
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


@pytest.mark.parametrize(
    ("key", "exit_code", "act"),
    [
        pytest.param("access_denied", 4, "deny", id="access_denied"),
        pytest.param("expired_token", 5, "expire", id="expired_token"),
    ],
)
def test_doctor_explains_a_failed_rfc_sign_in(
    world: dict[str, Any], browser: Any, tmp_path: Path, key: str, exit_code: int, act: str
) -> None:
    server: ServerProcess = world["server"]
    lifetime = {"lifetimes": "device_code = 2"} if act == "expire" else {}
    restart(server, world["folder"], lifetime)
    cli = Cli(server, tmp_path, tenant="contoso")
    cli.cache.mkdir(mode=0o700)
    proc = cli.start("login", "--json", "--timeout", "60")
    assert proc.stdout is not None
    code = read_event(proc.stdout)
    if act == "deny":
        approve(browser, code["verification_uri_complete"], deny=True)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == exit_code, err
    status, report = doctor(cli)
    assert report["diagnosis"]["key"] == key
    assert status == exit_code
    shown = cli.run("status").stdout
    assert "Last error:" in shown and key in shown
