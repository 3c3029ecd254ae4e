"""The user code format in plain words for the code page (RFC 8628 §6.1).

The code page is shared by every tenant (like ``microsoft.com/devicelogin``), so it describes the
formats the configured tenants actually issue: a Microsoft-dialect tenant's nine letters and
digits, an RFC tenant's ``XXXX-XXXX`` consonants, or whatever ``[user_code]`` sets. The
placeholder is the mask (length and grouping), the hint adds the alphabet and an example, and a
typo that cannot be a code at all is told how it differs.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

from deviceflow.server.settings import UserCodeFormat

_LETTERS, _DIGITS = string.ascii_uppercase, string.digits
_MOST_LEFT_OUT = 6
"""Name the characters a format leaves out only when they are this few (``no 0, 1, I or O``)."""
_EXAMPLE_STEP = 7
"""Stride through the alphabet for the example code, so it mixes letters and digits."""


def _kind(charset: str) -> tuple[str, str]:
    """What the characters are (``letters``) and which of their kind are left out."""
    chars = set(charset.upper())
    if chars <= set(_LETTERS):
        kind, full = "letters", _LETTERS
    elif chars <= set(_DIGITS):
        kind, full = "digits", _DIGITS
    else:
        kind, full = "letters and digits", _DIGITS + _LETTERS
    return kind, "".join(c for c in full if c not in chars)


def _or_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def example_code(fmt: UserCodeFormat) -> str:
    """A code of this format, laid out through its mask (``BKSC-LTDM``)."""
    charset = fmt.charset.upper()
    chars = iter(charset[(i * _EXAMPLE_STEP) % len(charset)] for i in range(fmt.length))
    return "".join(next(chars) if m == "X" else m for m in fmt.mask)


def describe_format(fmt: UserCodeFormat) -> str:
    """``9 letters and digits (never 0, 1, I or O), like AHQX6DLT2``."""
    kind, left_out = _kind(fmt.charset)
    never = f" (never {_or_list(list(left_out))})" if 0 < len(left_out) <= _MOST_LEFT_OUT else ""
    return f"{fmt.length} {kind}{never}, like {example_code(fmt)}"


@dataclass(frozen=True)
class CodeHint:
    """What the code page says about codes: the sentence, and the field's placeholder."""

    text: str
    placeholder: str


def code_hint(formats: Sequence[UserCodeFormat]) -> CodeHint:
    """The hint for the formats the tenants issue (one sentence, masks as the placeholder)."""
    described = [describe_format(fmt) for fmt in formats]
    separators = any(m != "X" for fmt in formats for m in fmt.mask)
    text = f"The code is {', or '.join(described)}."  # each part has commas of its own
    if separators:
        text += " Dashes and spaces are optional."
    return CodeHint(text=text, placeholder=" / ".join(fmt.mask for fmt in formats))


def shape_problem(normalised: str, formats: Sequence[UserCodeFormat]) -> str | None:
    """Why ``normalised`` (upper case, letters and digits only) cannot be a code, or None."""
    if any(
        len(normalised) == fmt.length and all(c in fmt.charset.upper() for c in normalised)
        for fmt in formats
    ):
        return None
    lengths = sorted({fmt.length for fmt in formats})
    if len(normalised) not in lengths:
        wanted = _or_list([str(n) for n in lengths])
        return f"You typed {len(normalised)} letters and digits; a code has {wanted}."
    allowed = {c for fmt in formats if fmt.length == len(normalised) for c in fmt.charset.upper()}
    wrong = sorted(dict.fromkeys(c for c in normalised if c not in allowed))
    return f"A code never contains {_or_list(wrong)}: check those characters on your device."
