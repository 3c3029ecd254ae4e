from __future__ import annotations

import json
from pathlib import Path

import pytest

from deviceflow.cache import AccessToken
from deviceflow.cli import main
from deviceflow.cli.demo import lan_address
from deviceflow.core import HttpRequest, HttpResponse
from tests.unit.cli.fakeidp import BASE, CLIENT_ID, FakeIdP, Harness, reply


def signed_in(tmp_path: Path, idp: FakeIdP | None = None) -> Harness:
    h = Harness(tmp_path, idp)
    assert h.run("login", "--json") == 0, h.stderr.getvalue()
    return h


def expire(h: Harness, profile: str = "default") -> None:
    cache = h.cache()
    entry = cache.load(profile)
    assert entry is not None
    old = entry.access_tokens[0]
    stale = AccessToken(token=old.token, expires_at=h.now - 1, scopes=old.scopes)
    cache.save(profile, entry.replace(access_tokens=(stale,)))


def test_token_prints_cached_token_without_refresh(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    assert h.run("token") == 0
    assert h.stdout.getvalue() == "access-1\n"
    assert h.idp.refresh_grants == []


def test_token_refreshes_expired_token_and_saves_rotation(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    expire(h)
    assert h.run("token") == 0
    assert h.stdout.getvalue() == "access-2\n"
    (grant,) = h.idp.refresh_grants
    assert grant["refresh_token"] == "refresh-1"
    assert grant["scope"].split() == ["User.Read", "offline_access", "openid", "profile"]
    entry = h.cache().load("default")
    assert entry is not None and entry.refresh_token == "refresh-2"
    assert h.run("token") == 0 and h.stdout.getvalue() == "access-2\n"
    assert len(h.idp.refresh_grants) == 1


def test_token_min_validity_forces_refresh(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    assert h.run("token", "--min-validity", "3700") == 0
    assert h.stdout.getvalue() == "access-2\n"


def test_token_for_new_scope_refreshes_with_that_scope(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    assert h.run("token", "--scope", "Presence.Read") == 0
    assert h.idp.refresh_grants[0]["scope"] == "Presence.Read"
    assert h.run("token", "--scope", "Presence.Read") == 0
    assert len(h.idp.refresh_grants) == 1


def test_token_rejected_refresh_token_exits_3(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    expire(h)
    h.idp.refresh_answer = lambda: reply(
        400, {"error": "invalid_grant", "error_description": "gone"}
    )
    assert h.run("token") == 3
    assert h.stdout.getvalue() == ""
    assert "no longer accepts the saved sign-in" in h.stderr.getvalue()
    assert "(server said: invalid_grant: gone)" in h.stderr.getvalue()
    assert "deviceflow login" in h.stderr.getvalue()


def test_token_without_refresh_token_exits_3(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    expire(h)
    cache = h.cache()
    entry = cache.load("default")
    assert entry is not None
    cache.save("default", entry.replace(refresh_token=None))
    assert h.run("token", "--profile", "default") == 3
    assert "no refresh token" in h.stderr.getvalue()


def test_token_not_signed_in_exits_3_and_names_profile(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert h.run("token", "--profile", "work") == 3
    assert "deviceflow login --profile work" in h.stderr.getvalue()


def test_token_with_corrupt_cache_exits_3_and_sets_file_aside(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    (h.cache_dir / "default.json").write_text("garbage")
    assert h.run("token") == 3
    assert "corrupt" in h.stderr.getvalue()
    assert any(p.name.startswith("default.json.corrupt-") for p in h.cache_dir.iterdir())


def test_token_with_readable_cache_exits_2_with_fix(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    (h.cache_dir / "default.json").chmod(0o644)
    assert h.run("token") == 2
    assert "chmod 600" in h.stderr.getvalue()


def test_me_prints_user_and_json(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    assert h.run("me") == 0
    assert h.stdout.getvalue().splitlines() == [
        "Name:      Adele Vance",
        "User:      adele@demo.example",
        "Mail:      adele@demo.example",
        "Id:        u1",
    ]
    request = h.idp.graph_calls[0]
    assert request.url == f"{BASE}/v1.0/me"
    assert request.header("Authorization") == "Bearer access-1"
    assert h.run("me", "--json") == 0
    assert json.loads(h.stdout.getvalue())["displayName"] == "Adele Vance"


def test_me_refreshes_once_on_401(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    h.idp.graph_status = [401]
    assert h.run("me") == 0
    assert len(h.idp.refresh_grants) == 1
    assert h.idp.graph_calls[-1].header("Authorization") == "Bearer access-2"


def test_me_twice_unauthorized_exits_7(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    h.idp.graph_status = [401, 401]
    assert h.run("me") == 7
    assert "HTTP 401" in h.stderr.getvalue()


def test_graph_get_post_and_paging(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    assert h.run("graph", "/v1.0/me") == 0
    assert json.loads(h.stdout.getvalue())["id"] == "u1"
    assert h.run("graph", "post", "me/events", "--data", '{"subject": "x"}') == 0
    assert json.loads(h.stdout.getvalue()) == {"subject": "x"}
    assert h.idp.graph_calls[-1].method == "POST"
    assert h.run("graph", "GET", "users", "--all") == 0
    assert json.loads(h.stdout.getvalue()) == [{"id": "1"}, {"id": "2"}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("graph", "GET"),
            "usage: deviceflow graph [-h] [settings] [--data JSON] [--all] [METHOD] PATH",
        ),
        (
            ("graph", "a", "b"),
            "usage: deviceflow graph [-h] [settings] [--data JSON] [--all] [METHOD] PATH",
        ),
        (("graph", "POST", "me", "--data", "{bad"), "--data is not valid JSON"),
        (("graph", "POST", "me", "--all"), "--all only works with GET"),
    ],
)
def test_graph_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    h = signed_in(tmp_path)
    assert h.run(*args) == 2
    assert message in h.stderr.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ("token", "--authority", "https://[x/y"),
        ("login", "--issuer", "http://h:x"),
        ("token", "--authority", "ftp://h/t"),
    ],
)
def test_a_url_that_does_not_parse_is_a_usage_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    h = Harness(tmp_path)
    assert h.run(*args) == 2
    assert f"{args[1]} must be an http(s) URL, not {args[2]!r}" in h.stderr.getvalue()


def test_accounts_lists_profiles(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert h.run("accounts") == 0
    assert "No cached accounts" in h.stderr.getvalue()
    assert h.run("login", "--json", "--profile", "work") == 0
    assert h.run("accounts") == 0
    assert h.stdout.getvalue() == (
        f"work\tAdele Vance <adele@demo.example>\t{BASE}/demo/v2.0\ttoken valid 1:00:00\n"
    )
    expire(h, "work")
    assert h.run("accounts", "--json") == 0
    (row,) = json.loads(h.stdout.getvalue())
    assert row["profile"] == "work"
    assert row["client_id"] == CLIENT_ID
    assert row["access_token_valid"] is False and row["can_refresh"] is True
    assert h.run("accounts") == 0
    assert h.stdout.getvalue().endswith("\ttoken expired, can refresh\n")


def test_logout_revokes_when_possible_and_removes(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    del h.environ["DEVICEFLOW_AUTHORITY"]
    assert h.run("login", "--json", "--issuer", f"{BASE}/rfc") == 0
    assert h.run("logout") == 0
    assert h.idp.revoked == ["refresh-1"]
    assert "and revoked the sign-in at the server" in h.stderr.getvalue()
    assert h.cache().load("default") is None
    assert h.run("logout") == 0  # nobody signed in: nothing to do, as with --all
    assert "Not signed in (profile default): nothing to sign out of." in h.stderr.getvalue()


def test_logout_all_and_server_refusal(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert h.run("logout", "--all") == 0
    assert "Not signed in (no profile): nothing to sign out of." in h.stderr.getvalue()
    assert h.run("login", "--json", "--profile", "a") == 0
    assert h.run("login", "--json", "--profile", "b") == 0
    assert h.run("logout", "--all") == 0
    assert h.cache().profiles() == []
    assert h.stderr.getvalue().count("Signed out of Adele Vance") == 2


def test_logout_reports_unreachable_revocation(tmp_path: Path) -> None:
    from deviceflow.errors import ConnectError

    h = Harness(tmp_path)
    del h.environ["DEVICEFLOW_AUTHORITY"]
    assert h.run("login", "--json", "--issuer", f"{BASE}/rfc") == 0

    def refuse(request: HttpRequest) -> HttpResponse:
        raise ConnectError("refused")

    h.transport.handler = refuse
    assert h.run("logout") == 6  # removed locally, not revoked: the network exit code
    assert "Could not reach the server" in h.stderr.getvalue()
    assert "stays valid at the server" in h.stderr.getvalue()
    assert h.cache().profiles() == []


def test_logout_reports_refused_revocation(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    del h.environ["DEVICEFLOW_AUTHORITY"]
    assert h.run("login", "--json", "--issuer", f"{BASE}/rfc") == 0
    original = h.transport.handler
    h.transport.handler = lambda r: reply(503) if r.url.endswith("/revoke") else original(r)
    assert h.run("logout") == 7  # removed locally, refused at the server
    assert "refused to revoke" in h.stderr.getvalue()
    assert h.cache().profiles() == []


def test_logout_of_an_authority_sign_in_revokes_at_the_discovered_endpoint(
    tmp_path: Path,
) -> None:
    # Sign-ins by --authority record no revocation endpoint: logout asks the issuer's metadata.
    h = signed_in(tmp_path)
    entry = h.cache().load("default")
    assert entry is not None and entry.revocation_url is None
    assert h.run("logout") == 0
    assert h.idp.revoked == ["refresh-1"]
    assert "and revoked the sign-in at the server" in h.stderr.getvalue()


def test_logout_says_when_the_server_offers_no_revocation(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    original = h.transport.handler
    h.transport.handler = lambda r: reply(404) if "well-known" in r.url else original(r)
    assert h.run("logout") == 0
    assert h.idp.revoked == []
    assert "offers no token revocation" in h.stderr.getvalue()
    assert h.cache().profiles() == []


def test_logout_never_sends_the_token_to_another_origin(tmp_path: Path) -> None:
    h = signed_in(tmp_path)
    original = h.transport.handler
    sent: list[str] = []

    def foreign(request: HttpRequest) -> HttpResponse:
        sent.append(request.url)
        if "well-known" in request.url:
            return reply(200, {"revocation_endpoint": "https://elsewhere.test/revoke"})
        return original(request)

    h.transport.handler = foreign
    assert h.run("logout") == 0
    assert not [url for url in sent if "elsewhere" in url]
    assert "offers no token revocation" in h.stderr.getvalue()


def test_unknown_command_help_and_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = Harness(tmp_path)
    assert h.run("frobnicate") == 2
    assert "unknown command 'frobnicate'" in h.stderr.getvalue()
    assert h.run("--help") == 0
    assert "exit codes (every command):" in h.stdout.getvalue()
    assert h.run("--version") == 0
    assert h.run("token", "--min-validity", "soon") == 2
    assert h.run("--profile", "../x", "token") == 2
    assert h.run("token", "--profile", "../x") == 2
    assert "invalid profile name" in h.stderr.getvalue()


def test_serve_is_dispatched_to_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    assert "deviceflow serve" in capsys.readouterr().out


def test_lan_address_is_an_ipv4_address() -> None:
    parts = lan_address().split(".")
    assert len(parts) == 4 and all(p.isdigit() for p in parts)
