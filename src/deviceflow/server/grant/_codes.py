"""User codes and device codes (RFC 8628 §6.1, §5.1, §5.2).

User codes come from a configurable alphabet (default base-20, no vowels) drawn by rejection
sampling so every character is equally likely; they are shown through a mask (``XXXX-XXXX``) and
normalised on entry: "The user code SHOULD be case-insensitive" and punctuation such as dashes
is stripped (RFC 8628 §6.1). Device codes carry 256 random bits.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from deviceflow.server.settings import UserCodeFormat

DEVICE_CODE_BYTES = 32


def generate_user_code(fmt: UserCodeFormat, rng: Callable[[int], bytes]) -> str:
    """A fresh user code in normalised form (no separators)."""
    size = len(fmt.charset)
    ceiling = 256 - 256 % size  # bytes at or above this would bias the first characters
    chars: list[str] = []
    while len(chars) < fmt.length:
        for byte in rng(fmt.length * 2):
            if byte < ceiling and len(chars) < fmt.length:
                chars.append(fmt.charset[byte % size])
    return "".join(chars)


def normalise_user_code(text: str) -> str:
    """Upper-case and drop everything but letters and digits (spaces, dashes, dots ...)."""
    return "".join(c for c in text.upper() if c.isascii() and c.isalnum())


def is_well_formed(code: str, fmt: UserCodeFormat) -> bool:
    """Whether a normalised code could have been issued under ``fmt``."""
    return len(code) == fmt.length and all(c in fmt.charset for c in code)


def display_user_code(code: str, fmt: UserCodeFormat) -> str:
    """Lay a normalised code out through the mask: ``BCDFGHJK`` -> ``BCDF-GHJK``."""
    chars = iter(code)
    return "".join(next(chars) if m == "X" else m for m in fmt.mask)


def generate_device_code(rng: Callable[[int], bytes]) -> str:
    """A device code with 256 random bits, URL-safe."""
    return urlsafe(rng(DEVICE_CODE_BYTES))


def urlsafe(data: bytes) -> str:
    """Unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
