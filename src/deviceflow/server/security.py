"""Security primitives: constant-time compare, code digests, passwords, rate-limit buckets.

Codes (device codes, user codes, refresh tokens) are stored and logged only as keyed digests
(HMAC-SHA-256). The key comes from the settings or, failing that, is generated once and kept in
storage; either way a database dump alone does not reveal the codes (RFC 8628 §5.1, §5.2), and
the short fingerprints in the audit log cannot be brute-forced back to a 34-bit user code
without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from deviceflow.server.storage.base import Storage

# A hash of a random, discarded password: verifying against it makes a sign-in for an
# unknown user cost as much as one for a known user (no username probing by timing).
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$8n66mlwCDzeY6Fh8jIwo5A"
    "$u1a1oVKw2Ouc203K3IfFUf3yb56V3o2jQyHJAl5WAZ0"
)


MIN_SECRET_KEY_LENGTH = 32
"""Shortest ``secret_key`` accepted, in characters (``secrets.token_urlsafe(32)`` gives 43)."""
MIN_SECRET_KEY_DISTINCT = 8
"""Fewest different characters in an accepted ``secret_key`` (a repeated word has fewer)."""
GENERATE_SECRET_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def secret_key_bytes(key: str) -> bytes:
    """The bytes of a configured ``secret_key``, once it is long and varied enough to be secret.

    The key signs the pages' session cookies and keys the code digests: one cookie is enough to
    test guesses offline, so a short or repetitive key is refused, never padded. These checks
    catch short and repetitive keys, not every guessable one: generate the key.

    Raises:
        ValueError: The key is too short or too repetitive; the message (which never repeats the
            key) says how to generate one.
    """
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < MIN_SECRET_KEY_DISTINCT:
        raise ValueError(
            f"secret_key: too weak to be a secret (at least {MIN_SECRET_KEY_LENGTH} characters,"
            f" {MIN_SECRET_KEY_DISTINCT} of them different, are required); generate one with:"
            f" {GENERATE_SECRET_KEY}"
        )
    return key.encode()


def constant_time_equals(a: str, b: str) -> bool:
    """Compare two strings without leaking where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())


class CodeHasher:
    """Keyed digests of secrets, separated by kind (``device``, ``user``, ``refresh`` ...)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the code digest key needs at least 16 bytes")
        # HMAC (RFC 2104) over hashlib's SHA-256, keyed once: each digest copies the inner and
        # outer states instead of setting the key up again, and calls no Python-level wrapper
        # (this runs on every poll). Same digests as ``hmac.new(key, ..., hashlib.sha256)``.
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\x00")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, kind: str, value: str) -> str:
        """Hex HMAC-SHA-256 of ``value`` under this hasher's key, domain-separated by ``kind``."""
        inner = self._inner.copy()
        inner.update(f"{kind}:{value}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


_BLOCK = 64
"""SHA-256's block size in bytes (HMAC pads its key to it)."""
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
"""Byte translations XOR-ing with HMAC's inner and outer pad bytes."""


def fingerprint(digest: str) -> str:
    """A short prefix of a digest, for logs: enough to correlate, useless to attack."""
    return digest[:12]


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (argon2-cffi's RFC 9106 low-memory profile)."""
    return PasswordHasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; ``None`` still spends the same time."""
    try:
        PasswordHasher().verify(password_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def address_key(ip: str) -> str:
    """The rate-limit key of a client address: an IPv4 address itself, an IPv6 one's /64.

    One IPv6 subscriber (a home, a phone, a cloud machine) is usually given a whole /64 and
    may pick any address in it, so per-address counters would give it 2**64 fresh starts.
    IPv4-mapped IPv6 addresses count as their IPv4 address; anything that does not parse (no
    peer address) is its own key. Every per-address bucket keys by this function.
    """
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True)
class Bucket:
    """One rate limit: at most ``limit`` events per ``window`` seconds for a key."""

    prefix: str
    limit: int
    window: float


@dataclass(frozen=True)
class Attempt:
    """One attempt counted by :meth:`RateLimiter.admit`: its place in the window, the verdict."""

    bucket: Bucket
    key: str
    count: int
    """This attempt's number in the window (1 for the first)."""
    retry_after: int | None
    """``None``: admitted; else refused, and seconds until the window ends."""

    @property
    def refused(self) -> bool:
        """Whether the attempt was over the limit."""
        return self.retry_after is not None

    @property
    def is_last(self) -> bool:
        """Whether this was the last attempt the limit admits (its failure locks the key)."""
        return self.count == self.bucket.limit


class RateLimiter:
    """Fixed-window counters kept in storage, so several server instances share them.

    Check-and-count is one atomic statement (:meth:`Storage.hit` adds and returns the new
    count): an attempt is counted first and judged by its own number, so concurrent attempts,
    on one instance or several, each get a distinct number and exactly ``limit`` of them are
    admitted. Reading the count and adding to it later let every attempt that read in between
    through. An admitted attempt that turns out not to be a failure is taken back
    (:meth:`refund`): only failures use up the limit.
    """

    def __init__(self, storage: Storage, clock: Callable[[], float]) -> None:
        self._storage = storage
        self._clock = clock

    def admit(self, bucket: Bucket, key: str) -> Attempt:
        """Count one attempt for ``key``, then judge it: refused past ``bucket.limit``."""
        now = self._clock()
        counter = self._storage.hit(f"{bucket.prefix}:{key}", now=now, window=bucket.window)
        wait = None
        if counter.count > bucket.limit:
            wait = max(1, int(counter.reset_at - now + 0.999))
        return Attempt(bucket, key, counter.count, wait)

    def refund(self, attempt: Attempt) -> None:
        """Take an admitted attempt back (it was no failure); the count never drops below 0."""
        now = self._clock()
        key = f"{attempt.bucket.prefix}:{attempt.key}"
        self._storage.hit(key, now=now, window=attempt.bucket.window, amount=-1)

    def record(self, bucket: Bucket, key: str) -> bool:
        """Count one event for ``key``; return whether this event reached the limit."""
        now = self._clock()
        counter = self._storage.hit(f"{bucket.prefix}:{key}", now=now, window=bucket.window)
        return counter.count == bucket.limit
