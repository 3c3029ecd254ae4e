"""deviceflow.testing's pieces that need no server: configuration, TOML, the CA bundle."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deviceflow.testing import TRUST_VARIABLES, server_config, trust_environment
from deviceflow.testing._config import settings_for, toml_text
from deviceflow.testing._trust import write_bundle

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def test_server_config_replaces_top_level_keys() -> None:
    config = server_config("rfc8628", interval=5, lifetimes={"access_token": 600})
    assert config["interval"] == 5
    assert config["lifetimes"] == {"access_token": 600}
    assert config["tenants"][0]["dialect"] == "rfc8628"
    assert config["refresh_rotation"] == "strict"
    assert server_config()["refresh_rotation"] == "microsoft"
    with pytest.raises(ValueError, match="dialect"):
        server_config("google")


def test_settings_are_built_once_per_configuration() -> None:
    config = server_config(users=[{"username": "u", "password": "u-password-123"}])
    assert settings_for(config) is settings_for(dict(config))


def test_toml_text_round_trips() -> None:
    config = {
        **server_config(),
        "lifetimes": {"access_token": 600},
        "rate_limits": {"poll_leeway": 0.5},
        "tenants": [{"id": "t", "aliases": ["a", "b"], "extra": {"k": 1}}],
    }
    assert tomllib.loads(toml_text(config)) == config
    with pytest.raises(ValueError, match="NoneType"):
        toml_text({"public_url": None})


def test_bundle_has_the_public_cas_then_the_local_one(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nlocal\n-----END CERTIFICATE-----\n")
    bundle = write_bundle(ca, tmp_path / "bundle.pem").read_bytes()
    assert bundle.endswith(ca.read_bytes())
    assert bundle.count(b"BEGIN CERTIFICATE") > 1
    assert trust_environment(tmp_path / "bundle.pem") == {
        name: str(tmp_path / "bundle.pem") for name in TRUST_VARIABLES
    }


def test_bundle_without_certifi_uses_openssls_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl
    from types import SimpleNamespace

    public = tmp_path / "public.pem"
    public.write_bytes(b"PUBLIC")  # no final newline: one is added
    monkeypatch.setitem(sys.modules, "certifi", None)
    paths = SimpleNamespace(openssl_cafile=str(public))
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: paths)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"LOCAL\n")
    assert write_bundle(ca, tmp_path / "b.pem").read_bytes() == b"PUBLIC\nLOCAL\n"
    paths.openssl_cafile = str(tmp_path / "missing.pem")
    assert write_bundle(ca, tmp_path / "b.pem").read_bytes() == b"LOCAL\n"
