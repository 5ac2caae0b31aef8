"""Before Qt starts on Linux: say which system packages are missing instead of Qt's abort.

README copies :data:`XCB_PACKAGES` from here; it is the one list of them.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["XCB_LIBRARIES", "XCB_PACKAGES", "missing_libraries", "problem", "apt_line"]

XCB_LIBRARIES: dict[str, str] = {
    # shared library soname -> Debian/Ubuntu package
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
XCB_PACKAGES = tuple(dict.fromkeys(XCB_LIBRARIES.values()))


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(libraries: dict[str, str] | None = None) -> list[str]:
    """Packages whose library cannot be loaded (of XCB_LIBRARIES by default), in order."""
    libraries = XCB_LIBRARIES if libraries is None else libraries
    return list(dict.fromkeys(pkg for soname, pkg in libraries.items() if not _loadable(soname)))


def apt_line(packages: list[str]) -> str:
    return "sudo apt-get install " + " ".join(packages)


def problem(environ: os._Environ | dict = os.environ, platform: str = sys.platform) -> str | None:
    """A message for the person if the Qt window cannot open here, else None."""
    if not platform.startswith("linux"):
        return None
    qpa = environ.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith("xcb"):
        return None  # offscreen, wayland, ...: Qt's own checks apply
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        return "RoomChat: no display (neither DISPLAY nor WAYLAND_DISPLAY is set); " \
               "run it in a desktop session, or use roomchat-server for a headless server."
    if not environ.get("DISPLAY"):
        return None  # Wayland only: Qt picks its wayland plugin
    missing = missing_libraries()
    if not missing:
        return None
    return ("RoomChat cannot open its window: system libraries for Qt's X11 (xcb) plugin are "
            "missing.\nInstall them with:\n    " + apt_line(missing))
