"""Turn QR codes drawn as terminal text back into PNG images, so ``zbarimg`` can decode them."""

from __future__ import annotations

import struct
import subprocess
import zlib
from collections.abc import Sequence
from pathlib import Path

# Which half of a character cell is lit (drawn in the foreground colour).
_CELLS = {"\u2588": (True, True), "\u2580": (True, False), "\u2584": (False, True)}


def text_to_modules(lines: Sequence[str], *, lit_is_light: bool = True) -> list[list[bool]]:
    """Half-block text -> rows of pixels (``True`` = white); any other character is unlit."""
    rows: list[list[bool]] = []
    width = max((len(line) for line in lines), default=0)
    for line in lines:
        top, bottom = [], []
        for char in line.ljust(width):
            upper, lower = _CELLS.get(char, (False, False))
            top.append(upper == lit_is_light)
            bottom.append(lower == lit_is_light)
        rows.extend([top, bottom])
    return rows


def write_png(rows: Sequence[Sequence[bool]], path: Path, *, scale: int = 6, pad: int = 4) -> None:
    """Write a black-and-white grayscale PNG (``True`` = white), scaled, with a white margin."""
    width = (len(rows[0]) + 2 * pad) * scale
    blank = [True] * len(rows[0])
    padded = [blank] * pad + [list(r) for r in rows] + [blank] * pad
    raw = bytearray()
    for row in padded:
        line = bytes(255 if px else 0 for px in [True] * pad + list(row) + [True] * pad)
        scaled = b"".join(bytes([b]) * scale for b in line)
        for _ in range(scale):
            raw += b"\x00" + scaled

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, len(padded) * scale, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )


def zbar_decode(zbarimg: str, path: Path) -> str:
    """Decode the single QR code in ``path`` with ``zbarimg``; return its text."""
    proc = subprocess.run(
        [zbarimg, "-q", "--raw", str(path)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, f"zbarimg exit {proc.returncode}: {proc.stderr}"
    return proc.stdout.strip()
