"""The local CA of ``deviceflow serve --tls``: created once, reused, re-issued when needed."""

from __future__ import annotations

import argparse
import ssl
import stat
from pathlib import Path

import pytest

from deviceflow.server import run, serve_settings
from deviceflow.server.settings import Settings, SettingsError
from deviceflow.server.tls import TlsError, local_ca, own_files, trust_hint

NOW = 1_900_000_000.0


def test_local_ca_is_created_once_and_reused(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    files = local_ca(folder, "127.0.0.1", clock=lambda: NOW)
    assert files.ca is not None and files.ca.is_file()
    assert stat.S_IMODE(files.keyfile.stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "ca-key.pem").stat().st_mode) == 0o600
    ca, cert = files.ca.read_bytes(), files.certfile.read_bytes()
    again = local_ca(folder, "127.0.0.1", clock=lambda: NOW + 86400)
    assert again == files
    assert files.ca.read_bytes() == ca and files.certfile.read_bytes() == cert
    # A new host, or a certificate close to expiry, gets a new certificate from the same CA.
    local_ca(folder, "login.example", clock=lambda: NOW)
    assert files.ca.read_bytes() == ca and files.certfile.read_bytes() != cert
    renewed = files.certfile.read_bytes()
    local_ca(folder, "login.example", clock=lambda: NOW + 340 * 86400)
    assert files.certfile.read_bytes() != renewed


def test_server_certificate_verifies_against_the_ca(tmp_path: Path) -> None:
    files = local_ca(tmp_path, "0.0.0.0", clock=lambda: NOW)
    assert files.ca is not None
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.certfile, files.keyfile)  # the pair matches
    client = ssl.create_default_context(cafile=str(files.ca))
    assert client.cert_store_stats()["x509_ca"] == 1


def test_broken_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("nonsense")
    (tmp_path / "ca-key.pem").write_text("nonsense")
    with pytest.raises(TlsError, match="cannot read the local CA"):
        local_ca(tmp_path, "127.0.0.1", clock=lambda: NOW)
    with pytest.raises(TlsError, match="not a PEM file"):
        own_files(tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    with pytest.raises(TlsError):
        own_files(tmp_path / "missing.pem", tmp_path / "ca-key.pem")


def test_trust_hint_names_the_variables(tmp_path: Path) -> None:
    hint = trust_hint(tmp_path / "ca.pem")
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        assert f"export {name}={tmp_path / 'ca.pem'}" in hint


def _args(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "config": None, "db": None, "host": "127.0.0.1", "port": 8443,
        "tls": False, "tls_cert": None, "tls_key": None,
    }  # fmt: skip
    values.update(given)
    return argparse.Namespace(**values)


def test_run_tls_options(tmp_path: Path) -> None:
    settings = run.load_settings(_args(tls=True), {"DEVICEFLOW_DATA_DIR": str(tmp_path)})
    assert settings.public_url == "https://127.0.0.1:8443"
    assert run.tls_files(_args(), settings, clock=lambda: NOW) is None
    made = run.tls_files(_args(tls=True), settings, clock=lambda: NOW)
    assert made is not None and made.ca == tmp_path / "tls" / "ca.pem"
    own = run.tls_files(
        _args(tls_cert=made.certfile, tls_key=made.keyfile), settings, clock=lambda: NOW
    )
    assert own is not None and own.ca is None
    with pytest.raises(SettingsError, match="go together"):
        run.tls_files(_args(tls_cert=made.certfile), settings, clock=lambda: NOW)
    sqlite = Settings.development()
    beside_db = run.load_settings(_args(db=f"sqlite:///{tmp_path / 'x' / 'db.sqlite3'}"), {})
    assert serve_settings.tls_folder(beside_db) == tmp_path / "x" / "tls"
    with pytest.raises(SettingsError, match="data directory"):
        serve_settings.tls_folder(sqlite)
