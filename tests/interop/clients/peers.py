"""Harness of the generic-client interop tests: the server's configuration, the person
approving over HTTPS, and Node peers driven line by line.

One ``deviceflow serve --tls`` serves both dialects: tenant ``contoso`` (``rfc8628``) and
tenant ``fabrikam`` (``microsoft``), one public client, one user in each. A Node peer prints one
JSON event per line (``code``, then ``done`` with what it obtained, or ``error``); the test
approves the code when it sees it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.tools import NODE_MODULES, require_node_package, require_tool

HERE = Path(__file__).resolve().parent
CLIENT_ID = "3b9d7c1e-6a2f-4e8d-9c0b-7f1e2d3c4b5a"
RFC_TENANT, RFC_GUID = "contoso", "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
MS_TENANT, MS_GUID = "fabrikam", "5f4e3d2c-1b0a-4987-a654-3210fedcba98"
USERS = {RFC_TENANT: ("erin", "erin-Interop-Pa55"), MS_TENANT: ("adele", "adele-Interop-Pa55")}
SCOPE = "openid profile email offline_access User.Read"

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def write_config(folder: Path) -> Path:
    path = folder / "server.toml"
    path.write_text(
        f"""
interval = 1

[[tenants]]
id = "{RFC_TENANT}"
name = "Contoso"
dialect = "rfc8628"
guid = "{RFC_GUID}"

[[tenants]]
id = "{MS_TENANT}"
name = "Fabrikam"
dialect = "microsoft"
guid = "{MS_GUID}"

[[clients]]
client_id = "{CLIENT_ID}"
name = "Interop Client"
scopes = ["openid", "profile", "email", "offline_access", "User.Read"]

[[users]]
username = "{USERS[RFC_TENANT][0]}"
password = "{USERS[RFC_TENANT][1]}"
display_name = "Erin Example"
given_name = "Erin"
surname = "Example"
mail = "erin@contoso.example"
tenant = "{RFC_TENANT}"

[[users]]
username = "{USERS[MS_TENANT][0]}"
password = "{USERS[MS_TENANT][1]}"
display_name = "Adele Vance"
given_name = "Adele"
surname = "Vance"
mail = "adele@fabrikam.example"
tenant = "{MS_TENANT}"
""",
        encoding="utf-8",
    )
    return path


def _csrf(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def approve(base_url: str, ca: Path, user_code: str, tenant: str) -> None:
    """The person, over HTTPS: enter the code, sign in, approve."""
    username, password = USERS[tenant]
    with httpx.Client(
        base_url=base_url, verify=ssl.create_default_context(cafile=ca), timeout=15
    ) as browser:
        page = browser.get("/devicelogin")
        entered = browser.post(
            "/devicelogin", data={"csrf_token": _csrf(page.text), "code": user_code}
        )
        assert entered.status_code == 200, entered.text
        form = {"csrf_token": _csrf(entered.text), "code": user_code}
        confirm = browser.post(
            "/devicelogin/signin", data={**form, "username": username, "password": password}
        )
        assert confirm.status_code == 200, confirm.text
        form = {"csrf_token": _csrf(confirm.text), "code": user_code, "decision": "approve"}
        decided = browser.post("/devicelogin/decide", data=form)
        assert "Device approved" in decided.text


def run_node_peer(
    script: str, package: str, folder: Path, *, ca: Path, env: dict[str, str], tenant: str,
    base_url: str, timeout: float = 90,
) -> dict[str, Any]:  # fmt: skip
    """Run ``script`` (next to this module) with Node, approve the code it prints, and return
    its final ``done`` event (raising with its ``error`` event or output otherwise)."""
    node = require_tool("node")
    require_node_package(package)
    shutil.copy(HERE / script, folder / script)
    modules = folder / "node_modules"
    if not modules.exists():  # ESM resolves packages next to the script
        modules.symlink_to(NODE_MODULES, target_is_directory=True)
    process = subprocess.Popen(
        [node, script],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(ca), **env},
    )
    assert process.stdout is not None
    try:
        deadline = time.monotonic() + timeout
        events: list[dict[str, Any]] = []
        for line in process.stdout:
            if not line.strip().startswith("{"):
                continue
            event: dict[str, Any] = json.loads(line)
            events.append(event)
            if event["event"] == "code":
                approve(base_url, ca, event["user_code"], tenant)
            elif event["event"] in ("done", "error"):
                break
            assert time.monotonic() < deadline, events
        process.wait(30)
    finally:
        if process.poll() is None:  # pragma: no cover - only on failure
            process.kill()
        _out, err = process.communicate()
    final = events[-1] if events else {"event": "error", "message": err[-3000:]}
    if final["event"] != "done":
        raise AssertionError(f"{script} failed: {final.get('message')}\n{err[-3000:]}")
    return final
