"""``json.loads`` for start-up paths, without importing :mod:`json`.

``import json`` costs ``deviceflow token`` more than all of its own work: :mod:`json.decoder`
imports :mod:`re` (and with it :mod:`enum`, :mod:`functools`, the regular expression compiler)
only to skip white space and to parse numbers in its pure-Python fallback. The parsing itself is
done by CPython's C scanner, ``_json.make_scanner``. :func:`loads` calls that same scanner
directly, configured exactly as :class:`json.JSONDecoder` configures it by default, so a
document it accepts gives exactly the value ``json.loads`` gives.

It never decides an error itself: when the scanner is missing (another Python), fails for any
reason, or leaves anything but JSON white space after the value, :func:`loads` hands the text to
``json.loads``, which returns its value or raises its usual :class:`ValueError`
(``json.JSONDecodeError``) with its usual message.
"""

from __future__ import annotations

# ``typing.TYPE_CHECKING`` without importing typing (``deviceflow token`` loads this module);
# type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["loads"]

#: JSON's white space (RFC 8259 §2); ``str.strip()`` without arguments would take more.
_WHITESPACE = " \t\n\r"
#: What ``json.loads`` accepts for these names (``JSONDecoder``'s default ``parse_constant``).
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Defaults:
    """The settings the C scanner reads from its context, as ``JSONDecoder()`` has them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo: dict[str, str] = {}  # read by the pure-Python scanner only; the C one keeps its own


def _c_scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    try:
        from _json import make_scanner  # CPython's accelerator (json.scanner uses it too)
    except ImportError:  # another implementation: json.loads does the work
        return None
    context: Any = _Defaults()  # typeshed wants a JSONDecoder; any object with these names will do
    scanner: Callable[[str, int], tuple[Any, int]] = make_scanner(context)
    return scanner


_scan_once = _c_scanner()


def loads(text: str) -> Any:
    """The value of the JSON document ``text``, as ``json.loads(text)`` returns it.

    Raises:
        ValueError: ``text`` is not a JSON document (``json.JSONDecodeError``, from
            ``json.loads`` itself).
        RecursionError: nested too deeply (as ``json.loads``).
    """
    scan = _scan_once
    if scan is not None:
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = scan(text, start)
        except Exception:  # json.loads below reports it its own way
            pass
        else:
            if not text[end:].strip(_WHITESPACE):
                return value
    import json

    return json.loads(text)
