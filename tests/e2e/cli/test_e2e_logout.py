"""``deviceflow logout`` against a real server: the sign-in ends at the server, not only on disk.

A copy of the cache taken before ``logout`` must not refresh afterwards (RFC 7009: revoking the
refresh token ends the grant). The person approves over plain HTTP (no browser needed here).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli.harness import Cli, read_event
from tests.hardening.server.realserver import approve
from tests.support.config import write_config
from tests.support.serverproc import ServerProcess, e2e_config

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cli-e2e-logout")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("logout-server")
    proc = ServerProcess(folder=folder, config=write_config(folder, e2e_config()))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def sign_in(cli: Cli, *extra: str) -> None:
    proc = cli.start("login", "--json", "--timeout", "60", *extra)
    assert proc.stdout is not None
    try:
        code = read_event(proc.stdout)
        assert approve(cli.server.base_url, code["user_code"]).status_code == 200
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # pragma: no cover - only on failure
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err


@pytest.mark.parametrize(
    "how",
    [
        pytest.param((), id="authority"),  # records no revocation endpoint: discovered at logout
        pytest.param(("--issuer", "{base}/contoso/v2.0"), id="issuer"),
    ],
)
def test_logout_revokes_so_a_copied_cache_no_longer_refreshes(
    server: ServerProcess, tmp_path: Path, how: tuple[str, ...]
) -> None:
    cli = Cli(server, tmp_path)
    if how:
        del cli.env["DEVICEFLOW_AUTHORITY"]
    sign_in(cli, *(arg.format(base=server.base_url) for arg in how))
    copy = tmp_path / "copied-cache"  # a backup, a synced folder, a stolen disk image
    shutil.copytree(cli.cache, copy)

    logout = cli.run("logout")
    assert logout.returncode == 0, logout.stderr
    assert "and revoked the sign-in at the server" in logout.stderr
    assert not (cli.cache / "default.json").exists()

    # A forced refresh from the copy (it succeeded before logout revoked): refused now.
    cli.env["DEVICEFLOW_CACHE"] = str(copy)
    after = cli.run("token", "--min-validity", "86400")
    assert after.returncode == 3, after.stderr
    assert "invalid_grant" in after.stderr


def test_logout_with_the_server_down_removes_locally_and_says_so(
    tmp_path: Path,
) -> None:
    proc = ServerProcess(folder=tmp_path, config=write_config(tmp_path, e2e_config()))
    proc.start()
    try:
        cli = Cli(proc, tmp_path)
        sign_in(cli)
    finally:
        proc.stop()
    logout = cli.run("logout")
    assert logout.returncode == 6, logout.stderr
    assert "Could not reach the server to revoke the sign-in" in logout.stderr
    assert "stays valid at the server until it expires" in logout.stderr
    assert not (cli.cache / "default.json").exists()
