"""``scripts/unasync.py``: the blocking client is generated from the asyncio one (STYLE §11).

``scripts/lint`` runs the script with ``--check``; these tests check that the check can fail:
on a copy of the two files, an edit to the generated one (or a stale prose rule) is reported.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


unasync = _script()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for source, target in unasync.FILES:
        for name in (source, target):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, tmp_path / name)
    return tmp_path


def test_unasync_check_passes_on_the_committed_files(copy: Path) -> None:
    assert unasync.main(["--check"], root=copy) == 0


def test_unasync_check_reports_an_edited_sync_client(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = copy / unasync.FILES[0][1]
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("attempt += 1", "attempt += 2"), encoding="utf-8")
    assert unasync.main(["--check"], root=copy) == 1
    err = capsys.readouterr().err
    assert "-            attempt += 2" in err and "+            attempt += 1" in err
    assert "is stale" in err
    assert target.read_text(encoding="utf-8") != text  # --check writes nothing
    assert unasync.main([], root=copy) == 0  # regenerating repairs it
    assert target.read_text(encoding="utf-8") == text


def test_unasync_stale_prose_rule_is_an_error(copy: Path) -> None:
    source = copy / unasync.FILES[0][0]
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("from asyncio code", "from async code"), encoding="utf-8")
    assert unasync.main(["--check"], root=copy) == 2


def test_unasync_rewrites_the_async_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    code = (
        "async def f(t: AsyncTransport) -> None:\n"
        "    async with x:\n"
        "        await t.handle_async_request(r)\n"
        "    await asyncio.sleep(1)\n"
    )
    monkeypatch.setattr(unasync, "PROSE", [])
    assert unasync.unasync(code) == (
        "def f(t: Transport) -> None:\n"
        "    with x:\n"
        "        t.handle_request(r)\n"
        "    time.sleep(1)\n"
    )
