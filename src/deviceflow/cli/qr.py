"""QR codes through the optional ``segno`` package (``pip install 'deviceflow[qr]'``).

Always a full QR code (``segno.make_qr``), never Micro QR, which phone cameras do not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["INSTALL_HINT", "QrUnavailableError", "qr_matrix", "save_qr"]

INSTALL_HINT = "For a QR code, install the extra: pip install 'deviceflow[qr]'"

#: Modules of light margin around the code; the QR standard asks for 4.
QUIET_ZONE = 4


class QrUnavailableError(RuntimeError):
    """``segno`` is not installed."""


def _segno() -> Any:
    try:
        import segno
    except ImportError as exc:
        raise QrUnavailableError(INSTALL_HINT) from exc
    return segno


def qr_matrix(data: str) -> tuple[tuple[bool, ...], ...]:
    """The module matrix of a QR code for ``data``, quiet zone included (``True`` = dark).

    Raises:
        QrUnavailableError: ``segno`` is not installed.
    """
    code = _segno().make_qr(data, error="m")
    return tuple(
        tuple(bool(module) for module in row) for row in code.matrix_iter(border=QUIET_ZONE)
    )


def save_qr(data: str, path: Path) -> None:
    """Write a QR code for ``data`` to ``path`` as PNG or SVG (chosen by the suffix).

    Raises:
        QrUnavailableError: ``segno`` is not installed.
        ValueError: the suffix is neither ``.png`` nor ``.svg``.
        OSError: the file cannot be written.
    """
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"--qr-file must end in .png or .svg, not {path.name!r}")
    code = _segno().make_qr(data, error="m")
    code.save(str(path), scale=8, border=QUIET_ZONE)
