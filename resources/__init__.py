"""Data files shipped with RoomChat (web page, icons, translations).

:func:`resource` finds them the same way from a source checkout, an installed wheel and a
PyInstaller bundle (which mirrors this package's path), so no caller builds paths itself.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from importlib.resources.abc import Traversable

__all__ = ["resource", "as_file"]


def resource(*parts: str) -> Traversable:
    """The shipped file or folder at ``parts`` below this package."""
    node = files(__name__)
    for part in parts:
        node = node / part
    return node
