"""Child process of the cache crash tests: save generation after generation until killed.

:func:`run` (the target of a ``multiprocessing`` forkserver child, so that each of many victims
starts in milliseconds) writes profile ``default`` of a
:class:`~deviceflow.cache.file.FileTokenCache` over and over, under the profile lock as the CLI
does, with refresh token ``rt-<generation>`` for generations ``first``, ``first + 1``, ... It
appends ``ready`` to the acknowledgement file once running, then each generation number *after*
its save returned: an acknowledged (complete) line is durable, so after a SIGKILL the cache must
hold the last acknowledged generation or the one after it (saved, not yet acknowledged), never an
older one and never a broken file.
"""

from __future__ import annotations

import os
from pathlib import Path

from deviceflow.cache.base import AccessToken, CacheEntry
from deviceflow.cache.file import FileTokenCache

PROFILE = "default"
BASE = CacheEntry(
    client_id="crash-lamp",
    token_url="http://127.0.0.1:9/contoso/oauth2/v2.0/token",
    device_authorization_url="http://127.0.0.1:9/contoso/oauth2/v2.0/devicecode",
    scopes=("openid", "offline_access", "User.Read"),
)


def generation_of(entry: CacheEntry | None) -> int:
    """The generation an entry was saved with (-1 for no entry)."""
    if entry is None:
        return -1
    assert entry.refresh_token is not None and entry.refresh_token.startswith("rt-")
    return int(entry.refresh_token[3:])


def entry_for(generation: int) -> CacheEntry:
    """The entry of ``generation``: its refresh token and an access token that say which one."""
    access = AccessToken(token=f"at-{generation}", expires_at=4e9, scopes=BASE.scopes)
    return BASE.replace(
        refresh_token=f"rt-{generation:08d}",
        access_tokens=(access,),
        updated_at=float(generation),
    )


def run(directory: str, first: int, acks: str) -> None:
    """Save generations ``first``, ``first + 1``, ... until killed (see the module docstring)."""
    cache = FileTokenCache(Path(directory), lock_timeout=10.0)
    fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, b"ready\n")
    generation = first
    while True:
        with cache.lock(PROFILE):
            cache.save(PROFILE, entry_for(generation))
        os.write(fd, f"{generation}\n".encode())
        generation += 1


def acknowledged(acks: Path) -> list[int]:
    """The generations acknowledged in ``acks`` (complete lines only)."""
    text = acks.read_text() if acks.exists() else ""
    lines = text.split("\n")[:-1]  # the last piece is empty or a line cut by the kill
    return [int(line) for line in lines if line != "ready"]
