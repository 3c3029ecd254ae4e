"""Argument checks shared by the core's constructors.

They take ``object`` on purpose: the core validates at run time what the annotations promise,
because callers may be untyped (or on MicroPython, where annotations are ignored).
"""

# typing.TYPE_CHECKING without importing typing (MicroPython has none; CPython skips ~2 ms of
# start-up): type checkers treat the name as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import TypeGuard


def is_text(value: object) -> "TypeGuard[str]":
    """``True`` for a non-empty ``str``."""
    return isinstance(value, str) and len(value) > 0


def is_int(value: object) -> "TypeGuard[int]":
    """``True`` for an ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> "TypeGuard[int | float]":
    """``True`` for an ``int`` or ``float`` that is not a ``bool`` nor NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value == value
