"""Issue 16's stumbles, as a newcomer meets them: the real CLI against ``deviceflow serve``.

Each test runs ``python -m deviceflow`` in subprocesses against a real server on loopback; the
person approves or denies over plain HTTP (the verification pages, no browser needed). Unlike
the other CLI tests, most of these give the settings as flags, as the README does, not as
``DEVICEFLOW_*`` variables: what the CLI must remember is exactly what those flags said.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli.harness import CLIENT_ID, PASSWORD, USERNAME, Cli
from tests.e2e.cli.services import server_config
from tests.support.pages import approve_over_http
from tests.support.serverproc import ServerProcess, serving
from tests.support.tools import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cli-e2e-newcomer")]

_SETTINGS = ("DEVICEFLOW_CLIENT_ID", "DEVICEFLOW_AUTHORITY", "DEVICEFLOW_GRAPH_URL")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("newcomer-server")
    with serving(ServerProcess(folder=folder, config=server_config(folder))) as proc:
        yield proc


def bare_cli(server: ServerProcess, folder: Path) -> Cli:
    """A CLI with a private cache and config folder and no ``DEVICEFLOW_*`` settings."""
    cli = Cli(server, folder)
    for name in (*_SETTINGS, "DEVICEFLOW_SCOPE"):
        del cli.env[name]
    return cli


def login_flags(server: ServerProcess, tenant: str = "contoso") -> list[str]:
    """The README's ``login`` flags for a server of one's own."""
    return [
        "--client-id", CLIENT_ID,
        "--authority", f"{server.base_url}/{tenant}",
        "--graph-url", server.base_url,
    ]  # fmt: skip


def sign_in(cli: Cli, *args: str, decision: str = "approve") -> tuple[int, str]:
    """``deviceflow login --json ARGS``; the person decides over HTTP. Exit code and stderr."""
    proc = cli.start("login", "--json", "--no-qr", "--timeout", "60", *args)
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line:
            _out, err = proc.communicate(timeout=60)
            return proc.returncode, err
        code = json.loads(line)
        assert code["event"] == "code", code
        answer = approve_over_http(
            cli.server.base_url,
            code["user_code"],
            username=USERNAME,
            password=PASSWORD,
            decision=decision,
        )
        assert answer.status_code == 200, answer.text[:300]
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # pragma: no cover - only on failure
            proc.kill()
            proc.communicate()
    return proc.returncode, err


def hinted_command(stderr: str, after: str) -> list[str]:
    """The ``deviceflow ...`` command a message suggests after ``after`` (to its line's end)."""
    line = next(line for line in stderr.splitlines() if after in line)
    words = shlex.split(line.split(after, 1)[1])
    assert words[0] == "deviceflow", line
    return words[1:]


# -- item 3: the CLI remembers where you signed in --------------------------------------------


def test_login_remembers_where_it_signed_in_so_later_commands_need_no_flags(
    server: ServerProcess, tmp_path: Path
) -> None:
    cli = bare_cli(server, tmp_path)
    code, err = sign_in(cli, *login_flags(server))
    assert code == 0, err

    me = cli.run("me")  # before: exit 6, "Name or service not known" (graph.microsoft.com)
    assert me.returncode == 0, me.stderr
    assert "Name:      Erin Example" in me.stdout
    graph = cli.run("graph", "/v1.0/me")
    assert graph.returncode == 0, graph.stderr
    assert json.loads(graph.stdout)["mail"] == "erin@contoso.example"
    assert cli.run("token").returncode == 0

    # A flag still overrides what was remembered, and a network error names the host it tried.
    port = free_port()
    elsewhere = cli.run("me", "--graph-url", f"http://127.0.0.1:{port}")
    assert elsewhere.returncode == 6
    assert f"could not reach 127.0.0.1:{port}" in elsewhere.stderr

    # logout forgets the tokens, not where the profile signs in: login needs no flags again.
    assert cli.run("logout").returncode == 0
    signed_out = cli.run("me")
    assert signed_out.returncode == 3
    assert signed_out.stderr.rstrip().endswith("sign in with: deviceflow login")
    code, err = sign_in(cli)
    assert code == 0, err
    assert cli.run("me").returncode == 0


def test_network_error_names_the_host(server: ServerProcess, tmp_path: Path) -> None:
    cli = bare_cli(server, tmp_path)
    result = cli.run(
        "login", "--client-id", CLIENT_ID, "--authority", "https://login.example.invalid/x"
    )
    assert result.returncode == 6, result.stderr
    assert "could not reach login.example.invalid" in result.stderr
    assert "Traceback" not in result.stderr


# -- item 6: a 403 names the missing scope and the command that adds it -----------------------


def test_graph_403_names_the_missing_scope_and_the_command_that_adds_it(
    server: ServerProcess, tmp_path: Path
) -> None:
    cli = bare_cli(server, tmp_path)
    code, err = sign_in(cli, *login_flags(server))  # the default scopes: no Presence.Read
    assert code == 0, err

    refused = cli.run("graph", "GET", "/v1.0/me/presence", "--debug")
    assert refused.returncode == 3, refused.stderr
    assert "the token lacks the Presence.Read scope" in refused.stderr
    # --debug hides secrets, not Graph's error code.
    assert '"code": "Authorization_RequestDenied"' in refused.stderr
    assert "Authorization: [redacted]" in refused.stderr
    access = cli.run("token").stdout.strip()
    assert access and access not in refused.stderr

    # The suggested command, run as printed, adds the scope; then the call works.
    suggested = hinted_command(refused.stderr, "signing in again with: ")
    assert suggested[0] == "login" and "Presence.Read" in suggested[-1].split()
    code, err = sign_in(cli, *suggested[1:])
    assert code == 0, err
    presence = cli.run("graph", "GET", "/v1.0/me/presence")
    assert presence.returncode == 0, presence.stderr
    assert "availability" in json.loads(presence.stdout)


# -- item 9: exit codes; argument problems before any network call; logout twice ---------------


def test_bad_qr_file_exits_2_before_any_network_call(tmp_path: Path) -> None:
    nobody = ServerProcess(folder=tmp_path, config=tmp_path / "none.toml", port=free_port())
    cli = Cli(nobody, tmp_path)  # nothing listens there: a network call would exit 6
    result = cli.run("login", "--qr-file", "code.jpg")
    assert result.returncode == 2, result.stderr
    assert "--qr-file must end in .png or .svg, not 'code.jpg'" in result.stderr
    assert "user_code" not in result.stdout


def test_second_logout_and_logout_all_agree(server: ServerProcess, tmp_path: Path) -> None:
    cli = Cli(server, tmp_path)
    code, err = sign_in(cli)
    assert code == 0, err
    assert cli.run("logout").returncode == 0
    again, every = cli.run("logout"), cli.run("logout", "--all")
    assert (again.returncode, every.returncode) == (0, 0)
    assert "nothing to sign out of" in again.stderr
    assert "nothing to sign out of" in every.stderr


# -- item 10: messages that end with a next step that works -----------------------------------


def test_sign_in_hint_names_the_flags_it_needs(server: ServerProcess, tmp_path: Path) -> None:
    cli = bare_cli(server, tmp_path)
    authority = f"{server.base_url}/contoso"
    result = cli.run("me", "--authority", authority)
    assert result.returncode == 3
    suggested = hinted_command(result.stderr, "sign in with: ")
    assert suggested == ["login", "--authority", authority, "--client-id", "ID"]


def test_expired_code_says_which_login_to_run_and_it_works(tmp_path: Path) -> None:
    folder = tmp_path / "server"
    folder.mkdir()
    config = server_config(folder, lifetimes="device_code = 2")
    with serving(ServerProcess(folder=folder, config=config)) as short:
        cli = bare_cli(short, tmp_path)
        expired = cli.run("login", "--no-qr", *login_flags(short))
        assert expired.returncode == 5, expired.stderr
        assert "the code expired before anyone approved it" in expired.stderr
        suggested = hinted_command(expired.stderr, "approve it in time: ")
        assert suggested[:1] == ["login"] and CLIENT_ID in suggested
        assert "--graph-url" in suggested
        assert "Traceback" not in expired.stderr

    # The suggested command works (against a server whose codes live long enough to approve).
    with serving(ServerProcess(folder=folder, config=server_config(folder), port=short.port)):
        code, err = sign_in(cli, *suggested[1:])
        assert code == 0, err


def test_denied_sign_in_in_plain_words_with_the_codes_on_a_second_line(
    server: ServerProcess, tmp_path: Path
) -> None:
    cli = bare_cli(server, tmp_path)
    code, err = sign_in(cli, *login_flags(server, "fabrikam"), decision="deny")
    assert code == 4, err
    first, second = [line for line in err.splitlines() if line.startswith(("deviceflow:", "  ("))]
    assert first.startswith("deviceflow: sign-in denied: ")
    assert "AADSTS" not in first and "Trace ID" not in first
    assert "If the request was yours, sign in again and approve it: deviceflow login" in first
    assert "AADSTS" in second and "trace ID " in second
    assert "\r" not in err


def test_tls_failure_names_ssl_cert_file(tmp_path: Path) -> None:
    folder = tmp_path / "server"
    folder.mkdir()
    with serving(ServerProcess(folder=folder, config=server_config(folder), tls=True)) as tls:
        cli = Cli(tls, tmp_path)
        refused = cli.run("login")
        assert refused.returncode == 6, refused.stderr
        assert "no trusted TLS connection to 127.0.0.1" in refused.stderr
        assert "export SSL_CERT_FILE=" in refused.stderr
        cli.env["SSL_CERT_FILE"] = str(tls.ca)  # what the message says: now the code comes
        trusted = cli.run("login", "--json", "--timeout", "1")
        assert trusted.returncode == 5, trusted.stderr
        assert json.loads(trusted.stdout.splitlines()[0])["event"] == "code"


def test_demo_timeout_suggests_the_demo_again(tmp_path: Path) -> None:
    cli = bare_cli(ServerProcess(folder=tmp_path, config=tmp_path / "unused.toml"), tmp_path)
    result = cli.run("demo", "--no-qr", "--timeout", "1", timeout=120)
    assert result.returncode == 5, result.stderr
    assert result.stderr.rstrip().endswith("give a longer --timeout): deviceflow demo")
    assert "deviceflow login" not in result.stderr


# -- item 12: accounts --profile ----------------------------------------------------------------


def test_accounts_with_a_profile_lists_only_that_profile(
    server: ServerProcess, tmp_path: Path
) -> None:
    cli = Cli(server, tmp_path)
    for profile in ("home", "work"):
        code, err = sign_in(cli, "--profile", profile)
        assert code == 0, err
    every = cli.run("accounts")
    assert [line.split("\t")[0] for line in every.stdout.splitlines()] == ["home", "work"]
    one = cli.run("accounts", "--profile", "work")
    assert one.returncode == 0
    assert [line.split("\t")[0] for line in one.stdout.splitlines()] == ["work"]
    listed = json.loads(cli.run("accounts", "--profile", "home", "--json").stdout)
    assert [row["profile"] for row in listed] == ["home"]
