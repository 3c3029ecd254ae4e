"""azure-identity's ``DeviceCodeCredential`` (the real library) against ``deviceflow serve --tls``.

``AuthenticationRecord.authority`` is the netloc of the ID token's ``iss``. Our ``iss`` carries the
port (``https://127.0.0.1:PORT/{tid}/v2.0``); with an IP-literal host the netloc
``127.0.0.1:PORT`` parses back into an https authority, so the record round trip works (see
docs/microsoft-emulation.md for host names, which need port 443).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.interop.microsoft.emulator import (
    AZURE_CLI_CLIENT_ID,
    TENANT,
    TENANT_GUID,
    approve,
)
from tests.support.serverproc import ServerProcess

identity = pytest.importorskip("azure.identity")

pytestmark = [pytest.mark.interop, pytest.mark.xdist_group("ms-interop-azure-identity")]

GRAPH = "https://graph.microsoft.com/.default"


def test_device_code_credential_get_token_and_record_reuse(
    emulator: ServerProcess, browser: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca))
    monkeypatch.setenv("HOME", str(tmp_path))  # the persistent token cache lives under HOME
    prompts: list[str] = []

    def prompt(verification_uri: str, user_code: str, expires_on: Any) -> None:
        prompts.append(user_code)
        assert verification_uri == f"{emulator.base_url}/devicelogin"
        approve(browser, emulator.base_url, user_code)

    cache = identity.TokenCachePersistenceOptions(
        name="deviceflow-interop", allow_unencrypted_storage=True
    )
    credential = identity.DeviceCodeCredential(
        client_id=AZURE_CLI_CLIENT_ID,
        tenant_id=TENANT,
        authority=emulator.base_url,
        disable_instance_discovery=True,
        prompt_callback=prompt,
        cache_persistence_options=cache,
        timeout=60,
    )
    record = credential.authenticate(scopes=[GRAPH])
    assert record.tenant_id == TENANT_GUID
    assert record.authority == f"127.0.0.1:{emulator.port}"
    assert record.username == "adele@contoso.example"
    token = credential.get_token(GRAPH)
    assert token.token and token.expires_on > 0
    assert len(prompts) == 1  # get_token answered silently from the cache

    # A new process would do exactly this: deserialize the record, build a new credential.
    restored = identity.AuthenticationRecord.deserialize(record.serialize())
    again = identity.DeviceCodeCredential(
        authentication_record=restored,
        disable_instance_discovery=True,
        disable_automatic_authentication=True,
        cache_persistence_options=cache,
    )
    silent = again.get_token(GRAPH)
    assert silent.token
    assert len(prompts) == 1  # no second device flow
    credential.close()
    again.close()
