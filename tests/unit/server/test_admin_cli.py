"""``deviceflow admin`` through its ``main``: output, exit codes, passwords, nothing half-done."""

from __future__ import annotations

import io
import json
import logging
import os
import select
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest

from deviceflow.cli import main as cli_main
from deviceflow.server.admin.cli import main
from deviceflow.server.security import verify_password
from deviceflow.server.storage import open_storage
from deviceflow.server.storage.base import directory_of
from tests.support.config import write_config
from tests.support.tools import ROOT

CONFIG: dict[str, Any] = {
    "tenants": [{"id": "contoso", "aliases": ["contoso.example"]}, {"id": "fabrikam"}],
    "clients": [{"client_id": "file-app", "name": "File App"}],
    "users": [{"username": "erin", "password": "erin-file-pw", "tenant": "contoso"}],
}
PASSWORD = "a-long-password-1"


class Admin:
    """``deviceflow admin`` on one configuration file and one SQLite database."""

    def __init__(self, folder: Path) -> None:
        self.config = write_config(folder, CONFIG)
        self.db = f"sqlite:///{folder / 'admin.sqlite3'}"
        self.out = io.StringIO()
        self.err = io.StringIO()

    def __call__(self, *args: str, stdin: str = "") -> int:
        self.out, self.err = io.StringIO(), io.StringIO()
        argv = [*args, "--config", str(self.config), "--db", self.db]
        return main(argv, environ={}, out=self.out, err=self.err, stdin=io.StringIO(stdin))

    def json(self) -> Any:
        return json.loads(self.out.getvalue())


@pytest.fixture
def admin(tmp_path: Path) -> Admin:
    return Admin(tmp_path)


def test_users_add_show_list_enable_disable_delete(admin: Admin) -> None:
    assert admin("users", "add", "Dana", "--mail", "dana@contoso.example", "--password-stdin",
                 "--json", stdin=PASSWORD + "\n") == 0  # fmt: skip
    added = admin.json()
    assert added["username"] == "Dana" and added["display_name"] == "Dana"
    assert "password" not in json.dumps(added) and PASSWORD not in admin.err.getvalue()
    assert "admin_user_added" in admin.err.getvalue()
    assert admin("users", "show", "DANA@contoso.example", "--json") == 0
    assert admin.json()["id"] == added["id"]
    assert admin("users", "list", "--tenant", "contoso.example") == 0
    table = admin.out.getvalue().splitlines()
    assert table[0].split()[:2] == ["USERNAME", "DISPLAY_NAME"]
    assert [line.split()[0] for line in table[1:]] == ["erin", "Dana"]
    assert admin("users", "disable", "dana") == 0 and "disabled user Dana" in admin.out.getvalue()
    assert admin("users", "show", "dana", "--json") == 0 and admin.json()["enabled"] is False
    assert admin("users", "enable", "dana") == 0
    assert admin("users", "delete", "dana") == 0
    assert admin("users", "show", "dana") == 2 and "not found" in admin.err.getvalue()
    assert admin("users", "list", "--tenant", "fabrikam") == 0
    assert admin.out.getvalue().strip() == "(none)"


def test_set_password_stores_only_an_argon2_hash(admin: Admin) -> None:
    assert admin("users", "add", "dana", "--password-stdin", stdin=PASSWORD + "\n") == 0
    assert (
        admin("users", "set-password", "dana", "--password-stdin", stdin="new-pass-word-2\n") == 0
    )
    store = open_storage(admin.db)
    try:
        directory = directory_of(store)
        assert directory is not None
        (user,) = directory.find_users("dana")
    finally:
        store.close()
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "new-pass-word-2")


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        pytest.param(["users", "add", "x"], "", 2, "--password-stdin", id="no-terminal"),
        pytest.param(["users", "add", "x", "--password-stdin"], "", 2, "no password", id="empty"),
        pytest.param(["users", "add", "x", "--password-stdin"], "short\n", 2, "8", id="short"),
        pytest.param(
            ["users", "add", "a b", "--password-stdin"], PASSWORD, 2, "one word", id="spaced"
        ),  # fmt: skip
        pytest.param(
            ["users", "add", "ERIN", "--password-stdin"],
            PASSWORD,
            2,
            "configuration file",
            id="file-user",
        ),  # fmt: skip
        pytest.param(
            ["users", "add", "x", "--tenant", "nope", "--password-stdin"],
            PASSWORD,
            2,
            "tenant 'nope' not found",
            id="tenant",
        ),  # fmt: skip
        pytest.param(["users", "disable", "erin"], "", 2, "edit the file", id="file-disable"),
        pytest.param(
            ["clients", "add", "X", "--client-id", "file-app"],
            "",
            2,
            "configuration file",
            id="file-client",
        ),  # fmt: skip
        pytest.param(["clients", "delete", "nope"], "", 2, "not found", id="no-client"),
        pytest.param(["sessions", "list", "--user", "nobody"], "", 2, "not found", id="no-user"),
        pytest.param(["users", "add", "x", "y"], "", 2, "", id="usage"),
    ],
)
def test_refusals_have_their_exit_code_and_change_nothing(
    admin: Admin, args: list[str], stdin: str, code: int, message: str
) -> None:
    assert admin(*args, stdin=stdin) == code
    assert message in admin.err.getvalue()
    assert "Traceback" not in admin.err.getvalue()
    assert admin("users", "list", "--json") == 0
    assert [u["username"] for u in admin.json()] == ["erin"]


def test_the_password_is_never_an_argument(admin: Admin) -> None:
    assert admin("users", "add", "dana", "--password", PASSWORD) == 2
    assert admin("users", "add", "dana", "--password-stdin", stdin=PASSWORD) == 0
    assert admin("users", "add", "dana", "--password-stdin", stdin=PASSWORD) == 2


def test_clients_add_prints_a_confidential_secret_once(admin: Admin) -> None:
    assert admin("clients", "add", "Reports", "--confidential", "--scope", "openid",
                 "--client-id", "reports", "--json") == 0  # fmt: skip
    shown = admin.json()
    assert shown["public"] is False and shown["scopes"] == ["openid"]
    secret = shown["client_secret"]
    store = open_storage(admin.db)
    try:
        directory = directory_of(store)
        assert directory is not None
        stored = directory.find_client("reports")
    finally:
        store.close()
    assert stored is not None and verify_password(stored.secret_hash, secret)
    assert admin("clients", "list", "--json") == 0
    listed = admin.json()
    assert [c["client_id"] for c in listed] == ["file-app", "reports"]
    assert all("client_secret" not in c for c in listed)
    assert admin("clients", "add", "Lamp") == 0
    assert "client_secret" not in admin.out.getvalue()
    assert admin("clients", "disable", "reports") == 0
    assert admin("clients", "delete", "reports") == 0
    assert admin("clients", "delete", "reports") == 2


def test_database_and_configuration_errors(admin: Admin, tmp_path: Path) -> None:
    argv = ["users", "list", "--config", str(admin.config)]
    err = io.StringIO()
    assert main([*argv, "--db", "memory:"], environ={}, err=err) == 2
    assert main([*argv, "--db", "mysql://x"], environ={}, err=err) == 2
    missing = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite3'}"
    assert main([*argv, "--db", missing], environ={}, err=err) == 7  # cannot be opened
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    nobody = f"postgresql://deviceflow@127.0.0.1:{port}/test"
    assert main([*argv, "--db", nobody], environ={}, err=err) == 6  # unreachable, as the CLI's
    bad = tmp_path / "bad.toml"
    bad.write_text("tenants = 3\n")
    assert main(["users", "list", "--config", str(bad), "--db", admin.db], environ={}, err=err) == 2
    assert "Traceback" not in err.getvalue()


def test_admin_is_dispatched_from_the_deviceflow_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli_main(["admin", "--help"]) == 0
    assert "deviceflow admin" in capsys.readouterr().out


def test_audit_handler_is_removed_after_the_command(admin: Admin) -> None:
    before = list(logging.getLogger("deviceflow.audit").handlers)
    admin("users", "add", "dana", "--password-stdin", stdin=PASSWORD)
    assert logging.getLogger("deviceflow.audit").handlers == before


def test_sessions_revoke_names_one_session_or_all(admin: Admin) -> None:
    assert admin("sessions", "revoke", "--user", "erin") == 2
    assert admin("sessions", "revoke", "s1", "--all", "--user", "erin") == 2
    assert admin("sessions", "revoke", "--all", "--user", "erin", "--json") == 0
    assert admin.json() == {"revoked": []}
    assert admin("sessions", "revoke", "s1", "--user", "erin") == 2


def _read_until(stream: IO[bytes], wanted: bytes, seen: bytearray) -> None:
    """Read the terminal's output into ``seen`` until ``wanted`` shows up (or it ends)."""
    while wanted not in seen:
        ready, _, _ = select.select([stream], [], [], 30)
        assert ready, f"no {wanted!r} on the terminal; saw {bytes(seen)!r}"
        chunk = os.read(stream.fileno(), 1024)
        if not chunk:
            return
        seen += chunk


def test_the_password_prompt_asks_twice_on_a_terminal_without_echo(admin: Admin) -> None:
    # The CLI runs on a terminal of its own: pty.spawn in a helper process (this one may have
    # threads, and forking it would be unsafe) relays our pipes to the terminal.
    argv = [sys.executable, "-m", "deviceflow", "admin", "users", "add", "tess",
            "--config", str(admin.config), "--db", admin.db]  # fmt: skip
    relay = "import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICEFLOW_")}
    helper = subprocess.Popen(
        [sys.executable, "-c", relay, *argv],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, env=env,
    )  # fmt: skip
    assert helper.stdin is not None and helper.stdout is not None
    seen = bytearray()
    try:
        _read_until(helper.stdout, b"Password: ", seen)
        helper.stdin.write(PASSWORD.encode() + b"\n")
        helper.stdin.flush()
        _read_until(helper.stdout, b"(again): ", seen)
        helper.stdin.write(PASSWORD.encode() + b"\n")
        helper.stdin.flush()
        _read_until(helper.stdout, b"added user tess", seen)
        assert helper.wait(30) == 0, bytes(seen)
    finally:
        if helper.poll() is None:  # pragma: no cover - only on failure
            helper.kill()
            helper.wait()
        helper.stdin.close()
        helper.stdout.close()
    assert b"added user tess" in seen
    assert PASSWORD.encode() not in seen  # never echoed
    assert admin("users", "show", "tess", "--json") == 0
