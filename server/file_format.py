"""Shared files, the parts both sides need and no I/O: names safe to show and save, image types
recognised by their bytes, sizes as people read them, and the binary upload frame.

``server/protocol.py`` uses these to validate offers and encode records; the desktop client
uses them again before saving a file.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .protocol import FileRef

__all__ = [
    "CHUNK_HEADER",
    "IMAGE_TYPES",
    "encode_chunk",
    "parse_chunk",
    "safe_file_name",
    "sniff_image",
    "valid_mime",
    "file_path",
    "format_size",
    "file_text_v1",
]

CHUNK_HEADER = 4
"""Bytes before the data in a binary upload frame: the upload's handle (unsigned, big-endian)."""

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""The only types shown inline, and only when the bytes say so (:func:`sniff_image`)."""

_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")
_WINDOWS_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)
_UNSAFE_IN_NAME = set('<>:"/\\|?*')


def encode_chunk(handle: int, data: bytes) -> bytes:
    """One binary upload frame: the handle the server gave, then the data."""
    return handle.to_bytes(CHUNK_HEADER, "big") + data


def parse_chunk(frame: bytes) -> tuple[int, memoryview] | None:
    """(handle, data) of a binary upload frame, or None if it is too short to have a handle."""
    if len(frame) < CHUNK_HEADER:
        return None
    view = memoryview(frame)
    return int.from_bytes(view[:CHUNK_HEADER], "big"), view[CHUNK_HEADER:]


def safe_file_name(name: str, maximum: int = 255) -> str:
    """A name fit to show and to save under: no folders, no control, format or bidi characters
    (RTL overrides, zero-width), no characters Windows forbids, not hidden, not a device name.

    Used by the server on every offer and by the clients again before saving.
    """
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    kept = "".join(
        "_" if ch in _UNSAFE_IN_NAME else ch
        for ch in name
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
    )
    kept = " ".join(kept.split()).strip(" .")
    if _WINDOWS_RESERVED.fullmatch(kept):
        kept = "_" + kept
    if len(kept) > maximum:  # keep the extension, which says what the file is
        stem, dot, ext = kept.rpartition(".")
        ext = dot + ext if dot and len(ext) <= 16 else ""
        kept = kept[: maximum - len(ext)].rstrip(" .") + ext
    return kept or "file"


def valid_mime(value: str) -> bool:
    """A ``type/subtype`` token (a claim; only :func:`sniff_image` decides what is shown inline)."""
    return len(value) <= 100 and _MIME.fullmatch(value) is not None


def sniff_image(head: bytes) -> str | None:
    """The image type the first bytes of a file show (PNG, JPEG, GIF, WebP), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def file_path(ref: FileRef) -> str:
    """The download path on the server; the name at the end is for people and is not checked."""
    return f"/files/{ref.id}/{urllib.parse.quote(ref.name)}"


def format_size(size: int) -> str:
    """``532 B``, ``1.4 KiB``, ``12.0 MiB``: sizes as people read them."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def file_text_v1(ref: FileRef, base_url: str) -> str:
    """The chat line a v1 page (which knows no files) shows for a shared file."""
    return f"[文件] {ref.name} ({format_size(ref.size)}) {base_url}{file_path(ref)}"
