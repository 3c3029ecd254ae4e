"""Server configuration files for tests that start a real ``deviceflow serve``.

A test describes its configuration as a mapping, in the shape ``Settings.from_mapping`` takes
(the same shape the in-process harnesses use), and :func:`write_config` writes it as the TOML
file ``deviceflow serve --config`` reads: scalars and lists of scalars as keys, mappings as
tables, lists of mappings as arrays of tables (``[[tenants]]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string (the same escapes), whatever the text holds.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _is_table_array(value: object) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and isinstance(value[0], Mapping)


def toml_of(config: Mapping[str, Any], prefix: str = "") -> str:
    """``config`` as TOML text (keys first, then tables, then arrays of tables)."""
    lines = [
        f"{key} = {_value(value)}"
        for key, value in config.items()
        if not isinstance(value, Mapping) and not _is_table_array(value)
    ]
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            lines += ["", f"[{name}]", toml_of(value, f"{name}.").rstrip("\n")]
        elif _is_table_array(value):
            for item in value:
                lines += ["", f"[[{name}]]", toml_of(item, f"{name}.").rstrip("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def write_config(folder: Path, config: Mapping[str, Any], *, name: str = "server.toml") -> Path:
    """Write ``config`` to ``folder / name`` as TOML and return the path."""
    path = folder / name
    path.write_text(toml_of(config), encoding="utf-8")
    return path
