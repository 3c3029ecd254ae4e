"""The one dialect registry: the dialects a tenant may name, by name.

A dialect registers itself with one call, ``register(MyDialect())``, when its module is imported.
The built-in dialects are imported on the first lookup rather than with this package: they use
the grant engine, which uses the settings, which look dialects up here (the names a configuration
may use, and a tenant's defaults).
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from deviceflow.server.dialects.base import Dialect

    _D = TypeVar("_D", bound=Dialect)

_BUILT_IN = ("deviceflow.server.dialects.rfc8628", "deviceflow.server.dialects.microsoft")
_dialects: dict[str, Dialect] = {}
_loading = False


def _load_built_in() -> None:
    global _loading
    if not _loading:
        _loading = True  # before the imports: each built-in module registers itself
        for module in _BUILT_IN:
            importlib.import_module(module)


def register(dialect: _D) -> _D:
    """Make ``dialect`` available to tenants as ``dialect = "<dialect.name>"``.

    Returns:
        ``dialect``, so a module may keep what it registered.

    Raises:
        ValueError: Another dialect already has this name.
    """
    _load_built_in()
    taken = _dialects.get(dialect.name)
    if taken is not None and taken is not dialect:
        raise ValueError(f"a dialect named {dialect.name!r} is already registered")
    _dialects[dialect.name] = dialect
    return dialect


def unregister(name: str) -> None:
    """Forget the dialect called ``name`` (for tests that register one of their own).

    Raises:
        Nothing: an unknown name is ignored.
    """
    _dialects.pop(name, None)


def dialect_named(name: str) -> Dialect:
    """The registered dialect called ``name``.

    Raises:
        ValueError: No dialect has this name.
    """
    _load_built_in()
    try:
        return _dialects[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}") from None


def dialect_names() -> tuple[str, ...]:
    """The names of the registered dialects, in registration order (built-in ones first)."""
    _load_built_in()
    return tuple(_dialects)


def registered() -> Mapping[str, Dialect]:
    """A read-only snapshot of the registry: name -> dialect."""
    _load_built_in()
    return types.MappingProxyType(dict(_dialects))
