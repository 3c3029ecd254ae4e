"""The development setup: what ``deviceflow serve`` runs without a configuration file.

One demo tenant speaking the Microsoft emulation's dialect (so Microsoft's client libraries work
against it out of the box), a demo public client and Azure CLI's client id, two demo users whose
passwords are printed at startup. Never for a server others can reach.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deviceflow.server.security import hash_password
from deviceflow.server.settings._schema import Client, Tenant, UserRecord, derived_id

if TYPE_CHECKING:
    from deviceflow.server.settings import Settings

DEMO_TENANT_GUID = "8c4f1d2e-5b6a-4c7d-9e8f-0a1b2c3d4e5f"
DEMO_CLIENT_ID = "5e1c0f7a-2b4d-4e8f-9a6b-3c2d1e0f9a8b"
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
DEMO_USERS = (
    ("adele", "adele-password", "Adele", "Vance"),
    ("megan", "megan-password", "Megan", "Bowen"),
)


def development(cls: type[Settings], data_dir: Path | None) -> Settings:
    """The no-config setup: one demo tenant, a demo public client, two demo users."""
    # Imported here, not above: the dialect uses the grant engine, which uses these settings.
    from deviceflow.server.dialects.microsoft import MicrosoftDialect

    tenant = Tenant(
        id="demo",
        name="deviceflow demo",
        dialect=MicrosoftDialect.name,
        guid=DEMO_TENANT_GUID,
        domain="demo.example",
        aliases=(DEMO_TENANT_GUID, "demo.example", "common", "organizations"),
        # The demo's QR code carries the code; Entra itself never sends the complete URI.
        verification_uri_complete=True,
    )
    scopes = ("openid", "profile", "email", "offline_access", "User.Read", "Presence.Read")
    clients = (
        Client(client_id=DEMO_CLIENT_ID, name="deviceflow demo", scopes=scopes),
        Client(client_id=AZURE_CLI_CLIENT_ID, name="Azure CLI (emulated)", scopes=scopes),
    )
    users = tuple(
        UserRecord(
            username=username,
            password_hash=hash_password(password),
            display_name=f"{given} {surname}",
            given_name=given,
            surname=surname,
            mail=f"{username}@demo.example",
            tenant=tenant.id,
            id=derived_id("user", tenant.id, username),
            preferred_language="en-US",
        )
        for username, password, given, surname in DEMO_USERS
    )
    return cls(
        tenants=(tenant,),
        clients=clients,
        users=users,
        data_dir=data_dir,
        is_development=True,
        test_control=True,  # docs/testing.md: guarded by a token printed at start
        dev_credentials=tuple((u, p) for u, p, _, _ in DEMO_USERS),
    )
