"""Even text weight for Chinese beside Latin: Qt's FreeType stem darkening turned off.

Chinese glyphs come from Noto Sans CJK, a CFF (PostScript-outline) font; Latin text from
TrueType fonts such as DejaVu Sans. Qt re-enables FreeType's CFF stem darkening when it
creates its FreeType library and then blends CFF glyphs gamma-corrected. Darkening is meant
to compensate the thinning of dark text on light backgrounds; with light text on dark (our
sidebar, member list and bubbles) both effects thicken, so Chinese looked bold next to
regular Latin (measured: 41 % more ink white-on-dark than black-on-white; Latin: 0 %).
Switching darkening off on Qt's own FreeType library (``qt_getFreetype()``, exported by
QtGui though not public API) makes Qt treat those fonts like TrueType ones: same weight on
any background, as Chromium draws the page. Linux (and other FreeType platforms) only;
Windows and macOS render with their own engines.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["even_cjk_weight"]

_QT_GET_FREETYPE = "_Z14qt_getFreetypev"  # FT_Library qt_getFreetype(), mangled C++ name
_done = False


def even_cjk_weight() -> bool:
    """Turn CFF stem darkening off for the GUI thread's text; True if it is off (idempotent).

    Call on the GUI thread after QtGui is loaded and before Chinese text is first drawn:
    a font engine decides on gamma-corrected blending when it is created.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith(("linux", "freebsd")):
        return False
    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 1)
    try:
        gui = ctypes.CDLL("libQt6Gui.so.6", mode=mode)  # already loaded by PySide6.QtGui
        freetype = ctypes.CDLL("libfreetype.so.6", mode=mode)  # the one QtGui links
        get_library = getattr(gui, _QT_GET_FREETYPE)
    except (OSError, AttributeError):
        return False
    get_library.restype = ctypes.c_void_p
    set_property = freetype.FT_Property_Set
    set_property.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
    set_property.restype = ctypes.c_int
    no_darkening = ctypes.c_ubyte(1)
    _done = set_property(get_library(), b"cff", b"no-stem-darkening", ctypes.byref(no_darkening)) == 0
    return _done
