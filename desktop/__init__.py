"""RoomChat desktop app: a PySide6 window on a qasync loop that joins or hosts rooms.

Importing the package repairs a reference-counting bug of PySide6 6.12.0: each
``SignalInstance.emit()`` returns ``True`` without owning a reference to it, so every
emit takes one reference away from ``True`` and after a few hundred emits Python frees
``True`` and crashes ("bool_dealloc: deallocating True or False", or a segfault in the
event loop). The repair is applied only when a probe shows the bug.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBE_EMITS = 8


def _emit_loses_a_reference() -> bool:
    """Emit a few times and see whether True lost as many references (then give them back)."""

    class Probe(QObject):
        probe = Signal()

    source = Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        source.probe.emit()
    lost = before - sys.getrefcount(True)
    if lost < _PROBE_EMITS - 1:
        return False
    for _ in range(lost):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return True


def _repair_emit() -> None:
    emit = SignalInstance.emit

    def emit_keeping_reference(self, *args):
        result = emit(self, *args)
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
        return result

    SignalInstance.emit = emit_keeping_reference


if _emit_loses_a_reference():
    _repair_emit()
