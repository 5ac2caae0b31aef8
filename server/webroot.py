"""The browser client's files, read once from ``resources/web`` and served from memory."""

from __future__ import annotations

import mimetypes

from resources import resource

__all__ = ["WebRoot"]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}


class WebRoot:
    """Maps URL paths to (body, content type); only files that exist in the folder match."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[bytes, str]] = {}
        folder = resource("web")
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_file() and not entry.name.startswith("."):
                    suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
                    content_type = _TYPES.get(suffix) or mimetypes.guess_type(entry.name)[0]
                    self._files["/" + entry.name] = (entry.read_bytes(), content_type or "application/octet-stream")
        if "/index.html" in self._files:
            self._files["/"] = self._files["/index.html"]

    def get(self, path: str) -> tuple[bytes, str] | None:
        return self._files.get(path)
