"""A local certificate authority for ``deviceflow serve --tls``.

Microsoft's clients refuse plain-HTTP authorities (MSAL checks the scheme before sending
anything), so the emulator serves HTTPS. On first use this module creates, in
``{data_dir}/tls/``, a CA (``ca.pem``, 10 years) and a server certificate signed by it
(``server.pem``, 1 year, names: the listening host, ``localhost``, ``127.0.0.1`` and ``::1``).
Later starts reuse both; the server certificate is re-issued by the same CA when it is close to
expiry or does not cover the requested host, so a CA that clients already trust keeps working.
Private keys are written with mode 0600 and never printed.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE_DAYS = 30
_DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


class TlsError(Exception):
    """The TLS files cannot be created or read (the message names the file)."""


@dataclass(frozen=True)
class TlsFiles:
    """Where the PEM files are: give ``certfile``/``keyfile`` to the server, ``ca`` to clients."""

    ca: Path | None
    certfile: Path
    keyfile: Path


def _write(path: Path, data: bytes, *, private: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(n.strip("[]") for n in names if n):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _names_of(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    found = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return found | set(san.get_values_for_type(x509.DNSName))


def _new_ca(now: datetime.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "deviceflow local CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _new_server(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    names: Sequence[str],
    now: datetime.datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0].strip("[]"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _load_ca(folder: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    cert_path, key_path = folder / "ca.pem", folder / "ca-key.pem"
    if not (cert_path.is_file() and key_path.is_file()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise TlsError(f"{folder}: cannot read the local CA: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TlsError(f"{key_path}: not the EC key this server writes")
    return key, cert


def local_ca(folder: Path, host: str, *, clock: Callable[[], float]) -> TlsFiles:
    """Create (once) or reuse the local CA and a server certificate for ``host``.

    Args:
        folder: Where the PEM files live (created with mode 0700 when missing).
        host: The host clients connect to (a name or an IP address).
        clock: Seconds since the epoch (certificate validity).

    Returns:
        The CA, certificate and key paths.

    Raises:
        TlsError: The folder cannot be written, or existing files cannot be read.
    """
    now = datetime.datetime.fromtimestamp(clock(), tz=datetime.timezone.utc)
    names = [host, *_DEFAULT_NAMES] if host not in ("0.0.0.0", "::") else list(_DEFAULT_NAMES)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        loaded = _load_ca(folder)
        if loaded is None:
            ca_key, ca_cert = _new_ca(now)
            _write(folder / "ca-key.pem", _key_pem(ca_key), private=True)
            _write(
                folder / "ca.pem", ca_cert.public_bytes(serialization.Encoding.PEM), private=False
            )
        else:
            ca_key, ca_cert = loaded
        files = TlsFiles(
            ca=folder / "ca.pem", certfile=folder / "server.pem", keyfile=folder / "server-key.pem"
        )
        if not _server_is_fresh(files, ca_cert, names, now):
            key, cert = _new_server(ca_key, ca_cert, names, now)
            _write(files.keyfile, _key_pem(key), private=True)
            _write(files.certfile, cert.public_bytes(serialization.Encoding.PEM), private=False)
    except OSError as exc:
        raise TlsError(f"{folder}: {exc.strerror or exc}") from exc
    return files


def _server_is_fresh(
    files: TlsFiles, ca_cert: x509.Certificate, names: Sequence[str], now: datetime.datetime
) -> bool:
    if not (files.certfile.is_file() and files.keyfile.is_file()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(files.certfile.read_bytes())
        covered = _names_of(cert)
    except (ValueError, x509.ExtensionNotFound):
        return False
    renew_at = cert.not_valid_after_utc - datetime.timedelta(days=RENEW_BEFORE_DAYS)
    wanted = {n.strip("[]") for n in names}
    return cert.issuer == ca_cert.subject and now < renew_at and wanted <= covered


def own_files(certfile: Path, keyfile: Path) -> TlsFiles:
    """``--tls-cert``/``--tls-key``: the user's own certificate (no CA is printed).

    Raises:
        TlsError: A file is missing or is not PEM.
    """
    for path in (certfile, keyfile):
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise TlsError(f"{path}: {exc.strerror or exc}") from exc
        if b"-----BEGIN" not in text:
            raise TlsError(f"{path}: not a PEM file")
    return TlsFiles(ca=None, certfile=certfile, keyfile=keyfile)


def trust_hint(ca: Path) -> str:
    """The lines that tell Python and Node clients to trust the local CA."""
    return "\n".join(
        [
            f"deviceflow serve: TLS certificates come from a local CA: {ca}",
            "  Trust it in the shell that runs your client:",
            f"    export REQUESTS_CA_BUNDLE={ca}",
            f"    export SSL_CERT_FILE={ca}",
            f"    export NODE_EXTRA_CA_CERTS={ca}",
        ]
    )
