"""The flags every command shares, and ``token``'s own: one table for argparse and the fast path.

:func:`deviceflow.cli.parser.build_parser` passes each entry to ``add_argument``;
:mod:`deviceflow.cli.fastpath` reads ``deviceflow token``'s command line from the same entries
without building a parser. A flag added here is therefore understood by both, with the same
destination, default and conversion. Only what both need is here: the ``settings`` group and
``--min-validity``; each command's other flags stay in :mod:`deviceflow.cli.parser`.

Keep this module light: ``deviceflow token`` imports it (no argparse, no typing at run time).
"""

from __future__ import annotations

from deviceflow.core import REFRESH_MARGIN

# ``typing.TYPE_CHECKING`` without importing typing; type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["SETTINGS", "TOKEN", "defaults", "destination"]

#: The ``settings`` group of every command but ``serve`` and ``demo``: option -> ``add_argument``
#: keywords. Only ``dest``, ``action`` (``append`` or ``store_true``), ``type`` and ``default``
#: change what is stored; ``metavar`` and ``help`` are for ``--help``.
SETTINGS: dict[str, dict[str, Any]] = {
    "--profile": {"help": "keep several apps/tenants apart (default: default)"},
    "--cache": {
        "metavar": "DIR",
        "help": "token cache directory (default $XDG_STATE_HOME/deviceflow or "
        "~/.local/state/deviceflow)",
    },
    "--client-id": {
        "dest": "client_id",
        "metavar": "ID",
        "help": "application (client) id (default: none; login needs one)",
    },
    "--authority": {
        "metavar": "URL",
        "help": "Microsoft-style authority URL, tenant optional "
        "(default https://login.microsoftonline.com)",
    },
    "--tenant": {
        "help": "tenant: a GUID, a domain, organizations or common (default organizations)"
    },
    "--issuer": {
        "metavar": "URL",
        "help": "any RFC 8628 provider, via discovery (default: none; use --authority)",
    },
    "--scope": {
        "action": "append",
        "default": [],
        "metavar": "S",
        "help": "scope(s), repeatable (default User.Read offline_access openid profile; "
        "with --issuer: openid profile offline_access)",
    },
    "--resource": {"metavar": "R", "help": "Microsoft v1 resource (default: none; v2.0 scopes)"},
    "--graph-url": {
        "dest": "graph_url",
        "metavar": "URL",
        "help": "Microsoft Graph base URL (default https://graph.microsoft.com)",
    },
    "--debug": {
        "action": "store_true",
        "help": "show HTTP exchanges, secrets redacted (default: no)",
    },
}

#: ``token``'s own flags, in the same form.
TOKEN: dict[str, dict[str, Any]] = {
    "--min-validity": {
        "dest": "min_validity",
        "type": float,
        "default": REFRESH_MARGIN,
        "metavar": "SECONDS",
        "help": f"refresh when the token expires sooner than this (default {REFRESH_MARGIN:g})",
    },
}


def destination(option: str, spec: dict[str, Any]) -> str:
    """Where argparse stores ``option``: its ``dest``, else the name with ``-`` as ``_``."""
    dest = spec.get("dest")
    return dest if isinstance(dest, str) else option.lstrip("-").replace("-", "_")


def defaults(*tables: dict[str, dict[str, Any]]) -> dict[str, object]:
    """What argparse stores for each flag of ``tables`` that is not given (fresh lists)."""
    values: dict[str, object] = {}
    for table in tables:
        for option, spec in table.items():
            default = spec.get("default", False if spec.get("action") == "store_true" else None)
            values[destination(option, spec)] = (
                list(default) if isinstance(default, list) else default
            )
    return values
