"""The configuration of a test server: one tenant, a public client, one user, test control on.

:func:`server_config` builds it as the TOML-shaped mapping ``Settings.from_mapping`` takes;
keyword settings replace top-level keys. Building settings hashes the users' passwords (argon2,
deliberately slow), so :func:`settings_for` keeps what it built for the rest of the session.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deviceflow.server.settings import Settings

TENANT = "contoso"
TENANT_GUID = "6a2c4e1f-3b5d-4f7a-9c8e-1d2b3a4c5e6f"
CLIENT_ID = "2f6e8a1c-4b3d-4e5f-8a7b-9c0d1e2f3a4b"
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
"""azure-identity's default client id (Azure CLI's), registered too."""
USERNAME = "adele"
PASSWORD = "adele-Test-Pa55word"
DISPLAY_NAME = "Adele Vance"
SCOPES = (
    "openid", "profile", "email", "offline_access", "User.Read", "User.ReadBasic.All",
    "Presence.Read", "Presence.ReadWrite", "Presence.Read.All",
)  # fmt: skip
DIALECTS = ("microsoft", "rfc8628")

_built: dict[str, Settings] = {}


def server_config(dialect: str = "microsoft", **settings: Any) -> dict[str, Any]:
    """The default test configuration for ``dialect``, with ``settings`` replacing top-level keys.

    Raises:
        ValueError: an unknown dialect.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}")
    config: dict[str, Any] = {
        "interval": 1,
        "refresh_rotation": "microsoft" if dialect == "microsoft" else "strict",
        "tenants": [
            {
                "id": TENANT,
                "name": "Contoso",
                "dialect": dialect,
                "guid": TENANT_GUID,
                "domain": "contoso.example",
                "aliases": ["common", "organizations"],
            }
        ],
        "clients": [
            {"client_id": CLIENT_ID, "name": "The app under test", "scopes": list(SCOPES)},
            {"client_id": AZURE_CLI_CLIENT_ID, "name": "Azure CLI", "scopes": list(SCOPES)},
        ],
        "users": [
            {
                "username": USERNAME,
                "password": PASSWORD,
                "display_name": DISPLAY_NAME,
                "given_name": "Adele",
                "surname": "Vance",
                "mail": "adele@contoso.example",
                "job_title": "Retail Manager",
                "preferred_language": "en-US",
            }
        ],
        "test_control": True,
    }
    config.update(copy.deepcopy(settings))
    return config


def settings_for(config: dict[str, Any]) -> Settings:
    """``Settings.from_mapping(config)``, built once per configuration.

    Raises:
        SettingsError: the configuration is invalid.
    """
    from deviceflow.server.settings import Settings

    key = json.dumps(config, sort_keys=True, default=str)
    if key not in _built:
        _built[key] = Settings.from_mapping(config)
    return _built[key]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise ValueError(f"cannot write {type(value).__name__} to TOML")


def toml_text(config: dict[str, Any]) -> str:
    """``config`` as TOML (for ``deviceflow serve --config``).

    Raises:
        ValueError: a value TOML cannot hold (None, for one).
    """
    lines: list[str] = []
    tables: list[str] = []
    for key, value in config.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                tables.append(f"\n[[{key}]]")
                tables.extend(f"{k} = {_toml_value(v)}" for k, v in item.items())
        elif isinstance(value, dict):
            tables.append(f"\n[{key}]")
            tables.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join([*lines, *tables]) + "\n"
