"""Real image files for tests, made with the standard library only."""

from __future__ import annotations

import struct
import zlib


def png(width: int = 160, height: int = 100) -> bytes:
    """An RGB PNG: a diagonal colour gradient with a white frame (easy to see in a screenshot)."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            edge = x < 4 or y < 4 or x >= width - 4 or y >= height - 4
            row += bytes((255, 255, 255)) if edge else bytes((40 + 200 * x // width, 90, 40 + 200 * y // height))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))

    header = struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))
