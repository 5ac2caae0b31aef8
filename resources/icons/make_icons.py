"""Write ``roomchat.ico`` (Windows) and ``roomchat.icns`` (macOS) from ``roomchat.png``.

Run from the repository root after changing the PNG:

    python resources/icons/make_icons.py

Both containers simply hold PNG images: an ICO directory entry may point at PNG data
(Windows Vista and later) and every modern ICNS element type (``icp4`` ... ``ic14``) is PNG.
Qt only scales the one source image, so no new dependency (Pillow) is needed.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QImage

__all__ = ["ICNS_TYPES", "ICO_SIZES", "icns_bytes", "ico_bytes", "main", "png_bytes"]

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "roomchat.png"

ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
"""Sizes Windows asks for in Explorer, the taskbar and the title bar (256 at most in ICO)."""

ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic13", 256),
)
"""ICNS element type -> pixel size; ic11-ic13 are the @2x (Retina) variants of 16, 32, 128."""


def png_bytes(source: QImage, size: int) -> bytes:
    """``source`` scaled smoothly to ``size`` x ``size``, as PNG data."""
    image = (
        source
        if source.width() == size
        else source.scaled(
            size,
            size,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    )
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"could not encode a {size}px PNG")
    return bytes(buffer.data())


def ico_bytes(source: QImage, sizes: tuple[int, ...] = ICO_SIZES) -> bytes:
    """An ICO file: ICONDIR, one 16-byte ICONDIRENTRY per size, then the PNG images."""
    images = [png_bytes(source, size) for size in sizes]
    offset = 6 + 16 * len(images)
    header = struct.pack("<HHH", 0, 1, len(images))
    entries = b""
    for size, data in zip(sizes, images):
        dimension = 0 if size >= 256 else size  # 0 means 256 in an ICO entry
        entries += struct.pack("<BBBBHHII", dimension, dimension, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return header + entries + b"".join(images)


def icns_bytes(source: QImage, types: tuple[tuple[bytes, int], ...] = ICNS_TYPES) -> bytes:
    """An ICNS file: ``icns`` + total length, then (type, length incl. 8-byte header, PNG)."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(data)) + data
        for kind, data in ((kind, png_bytes(source, size)) for kind, size in types)
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    source = QImage(str(SOURCE))
    if source.isNull() or source.width() != source.height() or source.width() < max(ICO_SIZES):
        print(f"{SOURCE}: need a square PNG of at least {max(ICO_SIZES)} px", file=sys.stderr)
        return 1
    source = source.convertToFormat(QImage.Format.Format_ARGB32)
    (HERE / "roomchat.ico").write_bytes(ico_bytes(source))
    (HERE / "roomchat.icns").write_bytes(icns_bytes(source))
    print(f"wrote {HERE / 'roomchat.ico'} and {HERE / 'roomchat.icns'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
