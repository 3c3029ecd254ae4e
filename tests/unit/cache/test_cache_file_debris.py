"""Temporary files left by writers killed mid-save hold refresh tokens: they must not linger.

The SIGKILL tests in ``tests/hardening/cache`` found them piling up (one per kill that landed
inside a save) and surviving ``logout``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from deviceflow.cache import CacheEntry, FileTokenCache
from deviceflow.cache.file import STALE_TEMP_SECONDS

ENTRY = CacheEntry(
    client_id="client",
    token_url="https://idp.example/token",
    device_authorization_url="https://idp.example/device",
    refresh_token="rt-new",
)


def _debris(folder: Path, name: str, age: float) -> Path:
    """A temporary file as a killed writer leaves it, ``age`` seconds old."""
    path = folder / name
    path.write_text('{"refresh_token": "rt-old"}')
    os.chmod(path, 0o600)
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def test_file_cache_save_sweeps_stale_temp_files_of_its_profile(tmp_path: Path) -> None:
    cache = FileTokenCache(tmp_path / "c")
    cache.save("work", ENTRY)
    stale = _debris(cache.directory, ".work.k1ll3d_x.tmp", STALE_TEMP_SECONDS + 5)
    young = _debris(cache.directory, ".work.wr1t1ng0.tmp", 1)  # maybe a live writer's
    other = _debris(cache.directory, ".work.b.abcdefgh.tmp", STALE_TEMP_SECONDS + 5)
    cache.save("work", ENTRY)
    assert not stale.exists()
    assert young.exists()
    assert other.exists()  # profile "work.b", not "work"
    assert cache.load("work") == ENTRY


def test_file_cache_save_sweep_follows_the_injected_clock(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    FileTokenCache(folder).save("work", ENTRY)
    young = _debris(folder, ".work.wr1t1ng0.tmp", 1)
    later = FileTokenCache(folder, clock=lambda: time.time() + STALE_TEMP_SECONDS + 60)
    later.save("work", ENTRY)
    assert not young.exists()


def test_file_cache_remove_deletes_every_temp_file_of_the_profile(tmp_path: Path) -> None:
    cache = FileTokenCache(tmp_path / "c")
    cache.save("work", ENTRY)
    young = _debris(cache.directory, ".work.wr1t1ng0.tmp", 1)
    other = _debris(cache.directory, ".home.abcdefgh.tmp", 1)
    assert cache.remove("work") is True
    assert not young.exists()
    assert other.exists()


def test_file_cache_remove_without_file_still_deletes_debris(tmp_path: Path) -> None:
    cache = FileTokenCache(tmp_path / "c")
    cache.save("home", ENTRY)
    debris = _debris(cache.directory, ".work.k1ll3d_x.tmp", 1)
    assert cache.remove("work") is False
    assert not debris.exists()
    assert FileTokenCache(tmp_path / "missing").remove("work") is False
