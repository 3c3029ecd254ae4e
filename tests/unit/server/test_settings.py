"""Settings: TOML + environment, validation naming the bad key, development setup, docs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deviceflow.server.security import hash_password, verify_password
from deviceflow.server.settings import (
    DEMO_TENANT_GUID,
    Settings,
    SettingsError,
    derived_id,
)

ROOT = Path(__file__).resolve().parents[3]
STRONG_KEY = "Zq7v0dXk2mW9pL4sR8tB1nC6yH3jF5gA"  # 32 characters, as varied as a generated one

HASHED = hash_password("s3cret-pass")  # once: argon2 is deliberately slow
MINIMAL = f"""
[[tenants]]
id = "contoso"
dialect = "microsoft"
domain = "contoso.example"
aliases = ["6F5A2A44-1D3B-4C2E-9F4E-0C7D2B1A9E11"]

[[clients]]
client_id = "app-1"
name = "Lobby display"
scopes = ["openid", "User.Read"]

[[users]]
username = "adele"
password_hash = "{HASHED}"
mail = "adele@contoso.example"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "server.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_from_toml_reads_tables_and_derives_ids(tmp_path: Path) -> None:
    settings = Settings.from_toml(write(tmp_path, MINIMAL + "\n[lifetimes]\ndevice_code = 600\n"))
    (tenant,) = settings.tenants
    assert tenant.guid == "6f5a2a44-1d3b-4c2e-9f4e-0c7d2b1a9e11"
    assert not tenant.enforces_slow_down
    for name in ("contoso", "CONTOSO.example", "6f5a2a44-1d3b-4c2e-9f4e-0c7d2b1a9e11"):
        assert settings.resolve_tenant(name) is tenant
    assert settings.resolve_tenant("fabrikam") is None
    (user,) = settings.users
    assert user.tenant == "contoso" and user.display_name == "adele"
    assert user.id == derived_id("user", "contoso", "adele")
    assert verify_password(user.password_hash, "s3cret-pass")
    assert "s3cret" not in repr(settings)
    assert settings.client("app-1") is not None and settings.client("nope") is None
    assert settings.lifetimes.device_code == 600 and settings.lifetimes.access_token == 3600
    assert not settings.is_development and settings.database_url == "memory:"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'public_url = "http://file.example"\n' + MINIMAL)
    env = {
        "DEVICEFLOW_PUBLIC_URL": "https://login.example/",
        "DEVICEFLOW_DATA_DIR": str(tmp_path),
        "DEVICEFLOW_SECRET_KEY": STRONG_KEY,
    }
    settings = Settings.from_toml(path, env)
    assert settings.public_url == "https://login.example"
    assert settings.database_url == f"sqlite:///{tmp_path / 'deviceflow.sqlite3'}"
    assert settings.secret_key == STRONG_KEY
    via_env = Settings.from_env({"DEVICEFLOW_CONFIG": str(path), "DEVICEFLOW_DB_URL": "memory:"})
    assert via_env.database_url == "memory:" and via_env.tenants[0].id == "contoso"


def test_from_env_without_config_is_the_development_setup(tmp_path: Path) -> None:
    settings = Settings.from_env({"DEVICEFLOW_DATA_DIR": str(tmp_path)})
    assert settings.is_development and settings.data_dir == tmp_path


def test_development_setup(dev_settings: Settings) -> None:
    (tenant,) = dev_settings.tenants
    assert tenant.dialect == "microsoft" and tenant.guid == DEMO_TENANT_GUID
    assert dev_settings.resolve_tenant(DEMO_TENANT_GUID) is tenant
    assert dev_settings.resolve_tenant("demo.example") is tenant
    assert all(c.public for c in dev_settings.clients)
    assert len(dev_settings.users) == 2 and len(dev_settings.dev_credentials) == 2
    for username, password in dev_settings.dev_credentials:
        user = dev_settings.user(tenant, username)
        assert user is not None and verify_password(user.password_hash, password)
    assert "password" not in repr(dev_settings).lower().replace("password_hash", "")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            '[[clients]]\nclient_id = "x"\nscopes = "User.Read"\n',
            r"^clients\[1\]\.scopes: expected a list",
            id="scopes-type",
        ),
        pytest.param(
            '[[clients]]\nname = "x"\n', r"^clients\[1\]\.client_id: required", id="client-required"
        ),
        pytest.param(
            '[[clients]]\nclient_id = "app-1"\n',
            r"^clients\[1\]\.client_id: duplicate",
            id="client-dup",
        ),
        pytest.param(
            '[[clients]]\nclient_id = "y"\ntenants = ["nowhere"]\n',
            r"^clients\[1\]\.tenants: unknown tenant",
            id="client-tenant",
        ),
        pytest.param(
            '[[clients]]\nclient_id = "y"\npublic = "yes"\n',
            r"^clients\[1\]\.public: expected true or false",
            id="bool",
        ),
        pytest.param(
            '[[clients]]\nclient_id = "y"\ncolour = "red"\n',
            r"^clients\[1\]\.colour: unknown key",
            id="unknown-key",
        ),
        pytest.param(
            '[[tenants]]\nid = "t2"\ndialect = "google"\n',
            r"^tenants\[1\]\.dialect: expected one of",
            id="dialect",
        ),
        pytest.param(
            '[[tenants]]\nid = "t2"\naliases = ["contoso.example"]\n',
            r"^tenants\[1\]: name 'contoso.example' already",
            id="alias-dup",
        ),
        pytest.param(
            '[[tenants]]\nid = "t2"\nguid = "not-a-guid"\n', r"^tenants\[1\]\.guid: ", id="guid"
        ),
        pytest.param(
            '[[users]]\nusername = "megan"\n', r"^users\[1\]\.password: required", id="no-password"
        ),
        pytest.param(
            '[[users]]\nusername = "m"\npassword = "a"\npassword_hash = "$argon2id$x"\n',
            r"^users\[1\]\.password: give either",
            id="both",
        ),
        pytest.param(
            '[[users]]\nusername = "m"\npassword_hash = "plain"\n',
            r"^users\[1\]\.password_hash: expected an argon2",
            id="bad-hash",
        ),
        pytest.param(
            '[[users]]\nusername = "m"\npassword = ""\n',
            r"^users\[1\]\.password: expected a non-empty",
            id="empty-pw",
        ),
        pytest.param(
            '[[users]]\nusername = "m"\npassword = "p"\ntenant = "x"\n',
            r"^users\[1\]\.tenant: unknown tenant",
            id="user-tenant",
        ),
        pytest.param(
            '[[users]]\nusername = "ADELE"\npassword = "p"\n',
            r"^users\[1\]\.username: duplicate",
            id="user-dup",
        ),
        pytest.param(
            '[[users]]\nusername = "m"\npassword = "p"\nid = "7"\n',
            r"^users\[1\]\.id: ",
            id="user-id",
        ),
        pytest.param('[user_code]\nmask = "XXXXXX"\n', r"^user_code: 25\.9 bits", id="weak-code"),
        pytest.param(
            '[user_code]\ncharset = "BCDB"\n',
            r"^user_code\.charset: expected at least 2 distinct",
            id="charset-dup",
        ),
        pytest.param(
            '[user_code]\ncharset = "bcdfghjklm"\n',
            r"^user_code\.charset: expected upper-case",
            id="charset-case",
        ),
        pytest.param(
            '[user_code]\nmask = "XXXXAXXXX"\n', r"^user_code\.mask: separators", id="mask"
        ),
        pytest.param(
            "[lifetimes]\naccess_token = 0\n",
            r"^lifetimes\.access_token: must be positive",
            id="lifetime",
        ),
        pytest.param(
            "[lifetimes]\naccess_token = 1.5\n",
            r"^lifetimes\.access_token: expected an integer",
            id="int",
        ),
        pytest.param(
            '[rate_limits]\npoll_leeway = "x"\n',
            r"^rate_limits\.poll_leeway: expected a number",
            id="float",
        ),
        pytest.param(
            "[rate_limits]\npoll_leeway = -1\n",
            r"^rate_limits\.poll_leeway: must be positive",
            id="leeway",
        ),
        pytest.param("lifetimes = 5\n", r"^lifetimes: expected a table", id="table"),
        pytest.param('public_url = "ftp://x"\n', r"^public_url: expected an http", id="url"),
        pytest.param("data_dir = 5\n", r"^data_dir: expected a string", id="path"),
        pytest.param(
            'refresh_rotation = "never"\n', r"^refresh_rotation: expected one of", id="rotation"
        ),
        pytest.param(
            '[[tenants]]\nid = "t2"\nuser_code_style = "short"\n',
            r"^tenants\[1\]\.user_code_style: expected one of 'settings', 'rfc8628', 'microsoft'",
            id="user-code-style",
        ),
    ],
)
def test_invalid_settings_name_the_bad_key(tmp_path: Path, extra: str, message: str) -> None:
    # Top-level keys must precede the tables in TOML; table snippets go after.
    text = extra + MINIMAL if not extra.startswith("[") else MINIMAL + extra
    with pytest.raises(SettingsError, match=message):
        Settings.from_toml(write(tmp_path, text))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, r"^tenants: at least one"),
        ({"tenants": {"id": "x"}}, r"^tenants: expected an array"),
        ({"tenants": ["x"]}, r"^tenants\[0\]: expected a table"),
        ({"tenants": [{"id": "x"}], "users": ["x"]}, r"^users\[0\]: expected a table"),
    ],
)
def test_invalid_shapes(data: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_mapping(data)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.from_toml(tmp_path / "missing.toml")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings.from_toml(write(tmp_path, "[[tenants]\n"))


def test_password_hash_is_accepted_as_given(tmp_path: Path) -> None:
    hashed = hash_password("from-a-hash")
    text = MINIMAL.replace(HASHED, hashed)
    (user,) = Settings.from_toml(write(tmp_path, text)).users
    assert user.password_hash == hashed


def test_rfc_dialect_enforces_slow_down_by_default(tmp_path: Path) -> None:
    text = (
        '[[tenants]]\nid = "std"\n[[tenants]]\nid = "ms"\ndialect = "microsoft"\nslow_down = true'
    )

    std, ms = Settings.from_toml(write(tmp_path, text)).tenants
    assert std.enforces_slow_down and ms.enforces_slow_down


@pytest.mark.parametrize(
    ("given", "rotation"),
    [
        ("strict", "strict"),
        ("reusable", "reusable"),
        ("microsoft", "reusable"),
        ("rfc8628", "strict"),
    ],
)
def test_refresh_rotation_by_dialect_name(tmp_path: Path, given: str, rotation: str) -> None:
    # A dialect's name means the rotation of its provider (Entra keeps the old token valid).
    text = f'refresh_rotation = "{given}"\n' + MINIMAL
    assert Settings.from_toml(write(tmp_path, text)).refresh_rotation == rotation


def test_user_code_style_names_a_dialect(tmp_path: Path) -> None:
    text = (
        '[[tenants]]\nid = "std"\nuser_code_style = "microsoft"\n'
        '[[tenants]]\nid = "ms"\ndialect = "microsoft"\nuser_code_style = "settings"\n'
        '[[tenants]]\nid = "ms2"\ndialect = "microsoft"\n'
    )
    settings = Settings.from_toml(write(tmp_path, text))
    std, ms, ms2 = (t.user_code_format(settings.user_code) for t in settings.tenants)
    assert std == ms2 and (std.mask, std.length) == ("XXXXXXXXX", 9)
    assert ms == settings.user_code and ms.mask == "XXXX-XXXX"
    assert settings.user_code_formats() == (std, ms)


def test_configuration_doc_is_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "config-docs"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_configuration_doc_example_is_valid() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    match = re.search(r"```toml\n(.*?)```", text, re.S)
    assert match is not None
    import tomllib

    settings = Settings.from_mapping(tomllib.loads(match.group(1)))
    assert settings.resolve_tenant("contoso.example") is not None
    assert settings.lifetimes.device_code == 600


def test_plain_password_is_hashed_at_load(tmp_path: Path) -> None:
    text = MINIMAL.replace(f'password_hash = "{HASHED}"', 'password = "plain-pw"')
    (user,) = Settings.from_toml(write(tmp_path, text)).users
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "plain-pw")
    assert not verify_password(user.password_hash, "other")
    assert not verify_password(None, "plain-pw")


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("tv2024", id="short"),
        pytest.param("tv2024" * 6, id="repetitive"),
        pytest.param("k" * 64, id="one-character"),
        pytest.param("0123456789abcdef0123456789abcdef"[:31], id="31-characters"),
    ],
)
@pytest.mark.parametrize("source", ["toml", "env"])
def test_weak_secret_key_is_refused_with_how_to_generate_one(
    tmp_path: Path, key: str, source: str
) -> None:
    # Issue 12: "tv2024" was NUL-padded, recovered offline from one cookie and forged a session.
    if source == "toml":
        path, env = write(tmp_path, f'secret_key = "{key}"\n' + MINIMAL), {}
    else:
        path, env = write(tmp_path, MINIMAL), {"DEVICEFLOW_SECRET_KEY": key}
    with pytest.raises(SettingsError) as info:
        Settings.from_toml(path, env)
    message = str(info.value)
    assert message.startswith("secret_key: ")
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in message
    assert key not in message  # a rejected key is still a secret: never echoed


def test_generated_secret_key_is_accepted(tmp_path: Path) -> None:
    import secrets

    key = secrets.token_urlsafe(32)
    settings = Settings.from_toml(write(tmp_path, MINIMAL), {"DEVICEFLOW_SECRET_KEY": key})
    assert settings.secret_key == key
    assert Settings.from_toml(write(tmp_path, f'secret_key = "{STRONG_KEY}"\n' + MINIMAL))


CONFIDENTIAL = f"""
[[clients]]
client_id = "report-service"
public = false
secret_hash = "{HASHED}"
"""


def test_confidential_client_is_configured_with_a_secret_hash(tmp_path: Path) -> None:
    settings = Settings.from_toml(write(tmp_path, MINIMAL + CONFIDENTIAL))
    client = settings.client("report-service")
    assert client is not None and not client.public
    assert verify_password(client.secret_hash, "s3cret-pass")
    assert HASHED not in repr(client)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param(
            'client_id = "c"\npublic = false\n',
            r"clients\[1\]\.secret_hash: required when public = false",
            id="confidential-without-secret",
        ),
        pytest.param(
            f'client_id = "c"\nsecret_hash = "{HASHED}"\n',
            r"clients\[1\]\.secret_hash: a public client has no secret",
            id="public-with-secret",
        ),
        pytest.param(
            'client_id = "c"\npublic = false\nsecret_hash = "plain-text"\n',
            r"clients\[1\]\.secret_hash: expected an argon2 hash",
            id="not-a-hash",
        ),
    ],
)
def test_client_secret_settings_are_checked(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        Settings.from_toml(write(tmp_path, MINIMAL + "\n[[clients]]\n" + table))
    if "public = false" in table:  # says how to make a secret and its hash
        assert "python -m deviceflow.server.client_secret" in str(info.value)


def test_client_secret_helper_prints_a_secret_and_its_hash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from deviceflow.server import client_secret

    assert client_secret.main([]) == 0
    out = capsys.readouterr().out
    secret = re.search(r"^client_secret: (\S+)$", out, re.M)
    hashed = re.search(r'^secret_hash = "(\$argon2id\$[^"]+)"$', out, re.M)
    assert secret and hashed, out
    assert len(secret.group(1)) >= 43
    assert verify_password(hashed.group(1), secret.group(1))
