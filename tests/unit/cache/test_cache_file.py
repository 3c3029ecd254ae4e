from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from deviceflow.cache import (
    AccessToken,
    Account,
    CacheCorruptError,
    CacheEntry,
    CacheError,
    CacheLockTimeoutError,
    CachePermissionError,
    FileTokenCache,
    MemoryTokenCache,
    TokenCache,
    default_cache_dir,
)


def make_entry(
    refresh: str = "rt-1", access: str = "at-1", expires_at: float = 2000.0
) -> CacheEntry:
    return CacheEntry(
        client_id="client",
        token_url="https://idp.example/token",
        device_authorization_url="https://idp.example/device",
        revocation_url="https://idp.example/revoke",
        issuer="https://idp.example",
        dialect="rfc8628",
        account=Account(username="alice@example.com", name="Alice", subject="42"),
        refresh_token=refresh,
        access_tokens=(AccessToken(token=access, expires_at=expires_at, scopes=("User.Read",)),),
        updated_at=1000.0,
    )


@pytest.fixture
def cache(tmp_path: Path) -> FileTokenCache:
    return FileTokenCache(tmp_path / "state" / "deviceflow", clock=lambda: 1234.0)


def test_file_cache_save_then_load_round_trips(cache: FileTokenCache) -> None:
    entry = make_entry()
    cache.save("default", entry)
    assert cache.load("default") == entry
    assert cache.profiles() == ["default"]


def test_file_cache_creates_private_directory_and_file(cache: FileTokenCache) -> None:
    old = os.umask(0o022)
    try:
        cache.save("default", make_entry())
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(cache.directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cache.path("default")).st_mode) == 0o600


def test_file_cache_file_has_schema_version(cache: FileTokenCache) -> None:
    cache.save("default", make_entry())
    data = json.loads(cache.path("default").read_text())
    assert data["version"] == 1
    assert data["refresh_token"] == "rt-1"


def test_file_cache_missing_profile_loads_none(cache: FileTokenCache) -> None:
    assert cache.load("default") is None
    cache.save("other", make_entry())
    assert cache.load("default") is None


def test_file_cache_replace_leaves_no_temp_files(cache: FileTokenCache) -> None:
    cache.save("default", make_entry(refresh="rt-1"))
    cache.save("default", make_entry(refresh="rt-2"))
    loaded = cache.load("default")
    assert loaded is not None and loaded.refresh_token == "rt-2"
    assert sorted(p.name for p in cache.directory.iterdir()) == ["default.json"]


def test_file_cache_world_readable_file_is_refused_with_fix(cache: FileTokenCache) -> None:
    cache.save("default", make_entry())
    os.chmod(cache.path("default"), 0o644)
    with pytest.raises(CachePermissionError) as info:
        cache.load("default")
    assert f"chmod 600 {cache.path('default')}" in str(info.value)


def test_file_cache_group_readable_directory_is_refused_with_fix(cache: FileTokenCache) -> None:
    cache.save("default", make_entry())
    os.chmod(cache.directory, 0o750)
    with pytest.raises(CachePermissionError) as info:
        cache.load("default")
    assert f"chmod 700 {cache.directory}" in str(info.value)
    with pytest.raises(CachePermissionError):
        cache.save("default", make_entry())


def test_file_cache_corrupt_file_is_set_aside_and_reported(cache: FileTokenCache) -> None:
    cache.save("default", make_entry())
    cache.path("default").write_text("{not json")
    with pytest.raises(CacheCorruptError) as info:
        cache.load("default")
    moved = cache.directory / "default.json.corrupt-1234"
    assert info.value.moved_to == str(moved)
    assert moved.read_text() == "{not json"
    assert "deviceflow login" in str(info.value)
    assert cache.load("default") is None


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("[]", id="not-object"),
        pytest.param('{"version": 1}', id="missing-members"),
        pytest.param('{"version": "x"}', id="bad-version"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
    ],
)
def test_file_cache_bad_shapes_are_corrupt(cache: FileTokenCache, content: str | bytes) -> None:
    cache.save("default", make_entry())
    path = cache.path("default")
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(CacheCorruptError):
        cache.load("default")
    assert not path.exists()


def test_file_cache_newer_schema_is_refused_not_moved(cache: FileTokenCache) -> None:
    cache.save("default", make_entry())
    path = cache.path("default")
    path.write_text('{"version": 7}')
    with pytest.raises(CacheError, match="newer deviceflow") as info:
        cache.load("default")
    assert not isinstance(info.value, CacheCorruptError)
    assert path.exists()


def test_file_cache_remove_deletes_profile(cache: FileTokenCache) -> None:
    cache.save("a", make_entry())
    cache.save("b", make_entry())
    assert cache.remove("a") is True
    assert cache.remove("a") is False
    assert cache.profiles() == ["b"]


def test_file_cache_profiles_of_missing_directory_is_empty(cache: FileTokenCache) -> None:
    assert cache.profiles() == []
    assert cache.remove("x") is False


@pytest.mark.parametrize("name", ["", "../etc", ".hidden", "a/b", "x" * 65])
def test_file_cache_unsafe_profile_names_are_rejected(cache: FileTokenCache, name: str) -> None:
    with pytest.raises(ValueError, match="invalid profile name"):
        cache.path(name)


def test_file_cache_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    os.chmod(tmp_path / "f", 0o600)
    with pytest.raises(CacheError, match="not a directory"):
        FileTokenCache(tmp_path / "f").load("default")


def test_file_cache_lock_times_out_with_injected_clock(tmp_path: Path) -> None:
    ticks = iter(range(0, 1000, 10))
    sleeps: list[float] = []
    holder = FileTokenCache(tmp_path / "c")
    waiter = FileTokenCache(
        tmp_path / "c", clock=lambda: float(next(ticks)), sleep=sleeps.append, lock_timeout=30
    )
    with holder.lock("default"):
        with pytest.raises(CacheLockTimeoutError, match="try again"):
            with waiter.lock("default"):
                pass  # pragma: no cover - never entered
    assert sleeps == [0.02, 0.02]
    with waiter.lock("default"):
        pass


def _hold_and_increment(directory: str, queue: multiprocessing.Queue[int]) -> None:
    cache = FileTokenCache(Path(directory))
    with cache.lock("default"):
        entry = cache.load("default")
        assert entry is not None
        count = int(entry.refresh_token or "0") + 1
        cache.save("default", entry.replace(refresh_token=str(count)))
    queue.put(count)


def test_file_cache_lock_serialises_processes(tmp_path: Path) -> None:
    cache = FileTokenCache(tmp_path / "c")
    cache.save("default", make_entry(refresh="0"))
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[int] = ctx.Queue()
    procs = [
        ctx.Process(target=_hold_and_increment, args=(str(cache.directory), queue))
        for _ in range(6)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    assert sorted(queue.get(timeout=5) for _ in procs) == [1, 2, 3, 4, 5, 6]
    loaded = cache.load("default")
    assert loaded is not None and loaded.refresh_token == "6"


def test_default_cache_dir_prefers_absolute_xdg_state_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_cache_dir({"XDG_STATE_HOME": "/x/state"}, home) == "/x/state/deviceflow"
    assert (
        Path(default_cache_dir({"XDG_STATE_HOME": "rel"}, home)) == home / ".local/state/deviceflow"
    )
    assert Path(default_cache_dir({}, home)) == home / ".local/state/deviceflow"


@pytest.mark.parametrize("factory", [MemoryTokenCache, None], ids=["memory", "file"])
def test_token_caches_share_the_protocol_contract(tmp_path: Path, factory: object) -> None:
    cache: TokenCache = MemoryTokenCache() if factory else FileTokenCache(tmp_path / "c")
    assert cache.load("p") is None
    with cache.lock("p"):
        cache.save("p", make_entry())
    assert cache.load("p") == make_entry()
    assert cache.profiles() == ["p"]
    assert cache.remove("p") is True
    assert cache.remove("p") is False
    assert cache.profiles() == []
