from __future__ import annotations

import builtins
from pathlib import Path

import pytest

from deviceflow.cli import qr
from deviceflow.cli.panel import render_qr
from tests.support.tools import require_tool
from tests.unit.cli.qr_raster import text_to_modules, write_png, zbar_decode

URL = "http://127.0.0.1:8765/device?user_code=BCDF-GHJK"


def test_qr_matrix_is_a_full_qr_code_with_quiet_zone() -> None:
    matrix = qr.qr_matrix(URL)
    size = len(matrix)
    assert all(len(row) == size for row in matrix)
    # Version 3 or larger: 29+ modules plus 2 x 4 quiet zone (Micro QR tops out at 17).
    assert size >= 29 + 8
    assert not any(matrix[0]) and not any(row[0] for row in matrix)
    # Finder pattern: the top-left 7x7 square starts dark at the quiet zone's edge.
    assert matrix[4][4:11] == (True,) * 7


@pytest.mark.parametrize("invert", [False, True])
def test_unicode_qr_decodes_back_to_url(tmp_path: Path, invert: bool) -> None:
    zbarimg = require_tool("zbarimg", "apt-get install zbar-tools")
    lines = render_qr(qr.qr_matrix(URL), invert=invert)
    png = tmp_path / "qr.png"
    write_png(text_to_modules(lines, lit_is_light=not invert), png)
    assert zbar_decode(zbarimg, png) == URL


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_save_qr_writes_png_or_svg(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"code{suffix}"
    qr.save_qr(URL, path)
    data = path.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
        zbarimg = require_tool("zbarimg", "apt-get install zbar-tools")
        assert zbar_decode(zbarimg, path) == URL
    else:
        assert b"<svg" in data


def test_save_qr_rejects_other_suffixes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        qr.save_qr(URL, tmp_path / "code.jpg")


def test_missing_segno_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "segno":
            raise ImportError("no segno")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(qr.QrUnavailableError, match=r"deviceflow\[qr\]"):
        qr.qr_matrix(URL)
