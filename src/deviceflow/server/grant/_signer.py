"""RS256 JSON Web Tokens (RFC 7515, RFC 7519) and the JWKS that publishes the key (RFC 7517).

The signing key is created on first use and kept in storage, so tokens stay valid across a
restart and several instances sharing a database sign with the same key. ``kid`` is the key's
RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from deviceflow.server.grant._codes import urlsafe
from deviceflow.server.grant._errors import GrantError
from deviceflow.server.storage.base import Storage

_NAMESPACE = "signing_keys"
_CLOCK_SKEW = 60


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(number: int) -> str:
    return urlsafe(number.to_bytes((number.bit_length() + 7) // 8, "big"))


class Signer:
    """Signs and verifies the server's JWTs with its persisted RSA key."""

    def __init__(self, storage: Storage, clock: Callable[[], float]) -> None:
        self._storage = storage
        self._clock = clock
        self._cached: tuple[str, rsa.RSAPrivateKey] | None = None

    def _key(self) -> tuple[str, rsa.RSAPrivateKey]:
        if self._cached is None:
            stored = self._storage.get_value(_NAMESPACE, "current")
            if stored is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode("ascii")
                self._storage.put_value(_NAMESPACE, "current", pem, replace=False)
                stored = self._storage.get_value(_NAMESPACE, "current")  # another instance may win
            assert stored is not None
            loaded = serialization.load_pem_private_key(stored.encode("ascii"), password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            self._cached = (self._thumbprint(loaded), loaded)
        return self._cached

    @staticmethod
    def _public_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
        numbers = key.public_key().public_numbers()
        return {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}

    def _thumbprint(self, key: rsa.RSAPrivateKey) -> str:
        canonical = json.dumps(self._public_jwk(key), separators=(",", ":"), sort_keys=True)
        return urlsafe(hashlib.sha256(canonical.encode()).digest())

    @property
    def kid(self) -> str:
        """The key id in token headers and the JWKS."""
        return self._key()[0]

    def jwks(self) -> dict[str, Any]:
        """The public key set: ``{"keys": [{"kty": "RSA", "kid": ..., "n": ..., "e": ...}]}``."""
        kid, key = self._key()
        return {"keys": [{**self._public_jwk(key), "use": "sig", "alg": "RS256", "kid": kid}]}

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact RS256 JWT carrying ``claims``."""
        kid, key = self._key()
        header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
        signing_input = ".".join(
            urlsafe(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{urlsafe(signature)}"

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this server signed, if its signature and lifetime hold.

        Raises:
            GrantError: ``invalid_token`` (401) for a malformed, foreign, tampered, expired or
                not-yet-valid token.
        """
        kid, key = self._key()
        try:
            head, body, sig = token.split(".")
            header = json.loads(_b64decode(head))
            claims = json.loads(_b64decode(body))
            signature = _b64decode(sig)
        except ValueError as exc:
            raise GrantError("invalid_token", "malformed token", status=401) from exc
        if not isinstance(header, dict) or header.get("alg") != "RS256" or header.get("kid") != kid:
            raise GrantError("invalid_token", "unknown signing key or algorithm", status=401)
        try:
            key.public_key().verify(
                signature, f"{head}.{body}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature as exc:
            raise GrantError("invalid_token", "bad signature", status=401) from exc
        if not isinstance(claims, dict):
            raise GrantError("invalid_token", "malformed claims", status=401)
        now = self._clock()
        if now >= float(claims.get("exp", 0)):
            raise GrantError("invalid_token", "the token is expired", status=401)
        if float(claims.get("nbf", 0)) > now + _CLOCK_SKEW:
            raise GrantError("invalid_token", "the token is not yet valid", status=401)
        return claims
