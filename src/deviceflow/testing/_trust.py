"""Make this process trust a local CA: a CA bundle, and the variables clients read it from.

``requests`` (and so MSAL and azure-core) reads ``REQUESTS_CA_BUNDLE``; ``httpx`` (and so
msgraph-sdk's transport) and the standard library's ``ssl.create_default_context`` (``urllib``,
deviceflow's transports) read ``SSL_CERT_FILE``. Both get one bundle: the usual public CAs
(certifi's list when installed, else OpenSSL's default file) followed by the local CA, so
other hosts keep verifying while a test runs.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TRUST_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
"""The environment variables :func:`trusting` sets (``requests``; ``httpx`` and ``ssl``)."""


def _public_cas() -> bytes:
    try:
        import certifi
    except ImportError:
        path = ssl.get_default_verify_paths().openssl_cafile
    else:
        path = certifi.where()
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def write_bundle(ca_file: Path, target: Path) -> Path:
    """Write the public CAs and ``ca_file`` into ``target``; return ``target``."""
    public = _public_cas()
    if public and not public.endswith(b"\n"):
        public += b"\n"
    target.write_bytes(public + ca_file.read_bytes())
    return target


def trust_environment(bundle: Path) -> dict[str, str]:
    """The variables (:data:`TRUST_VARIABLES`) that make clients use ``bundle``."""
    return {name: str(bundle) for name in TRUST_VARIABLES}


@contextmanager
def trusting(bundle: Path) -> Iterator[None]:
    """Within the block, ``requests``, ``httpx`` and ``urllib`` trust ``bundle`` (``os.environ``
    is changed, and restored at the end of the block)."""
    saved = {name: os.environ.get(name) for name in TRUST_VARIABLES}
    os.environ.update(trust_environment(bundle))
    try:
        yield
    finally:
        for name, before in saved.items():
            if before is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = before
