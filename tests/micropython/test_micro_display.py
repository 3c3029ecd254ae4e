"""The display helper on the Unix port: render into a FrameBuffer, write the frame, decode the QR.

``mp_display`` (compiled, with the .mpy build) draws the sign-in screen for a 128x64 OLED
(``MONO_VLSB``, light text on dark) and a 296x128 e-paper panel (``MONO_HLSB``, dark on light)
and writes the frame as a PGM image; ``zbarimg`` must read back the URL the person should open.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.micropython.device import HEAP, run_module
from tests.support.tools import require_tool

pytestmark = pytest.mark.micropython

COMPLETE = "http://127.0.0.1:8765/devicelogin?code=BCDF-GHJK"
PLAIN = "http://127.0.0.1:8765/devicelogin"


@pytest.mark.parametrize(
    ("width", "height", "fmt", "complete", "expected"),
    [
        pytest.param(128, 64, "MONO_VLSB", COMPLETE, COMPLETE, id="oled-128x64"),
        pytest.param(296, 128, "MONO_HLSB", COMPLETE, COMPLETE, id="epaper-296x128"),
        pytest.param(128, 64, "MONO_VLSB", "", PLAIN, id="oled-no-complete-uri"),
    ],
)
def test_display_qr_decodes_to_the_url(
    lib: Path, tmp_path: Path, width: int, height: int, fmt: str, complete: str, expected: str
) -> None:
    zbarimg = require_tool("zbarimg", "apt-get install zbar-tools, or run .ci/run")
    image = tmp_path / "frame.pgm"
    args = [str(width), str(height), fmt, complete or "-", str(image)]
    drawn = subprocess.run(
        run_module(lib, "mp_display", args, HEAP), capture_output=True, text=True, timeout=60
    )
    assert drawn.stdout.strip() == "QR yes", drawn.stdout + drawn.stderr
    header = image.read_bytes()[:20]
    assert header.startswith(f"P5 {width * 4} {height * 4} 255".encode())
    decoded = subprocess.run(
        [zbarimg, "-q", "--raw", str(image)], capture_output=True, text=True, timeout=60
    )
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stdout.strip() == expected
