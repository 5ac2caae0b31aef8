"""RoomChat desktop app: a PySide6 window on a qasync loop that joins or hosts rooms.

Importing the package repairs a reference-counting bug of PySide6 6.12.0 (6.11.3 is
fine): ``SignalInstance.emit()`` and ``.disconnect()`` return ``True`` without owning a
reference to it, so every call takes one reference away from ``True``; after a few
hundred emits Python frees ``True`` and crashes ("bool_dealloc: deallocating True or
False", or a segfault in the event loop). Each repair is applied only when a probe shows
the bug, so a fixed PySide6 runs untouched.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBES = 8


class _Probe(QObject):
    probe = Signal()


def _true_references_lost(call) -> int:
    """How many references ``True`` loses over a few calls (they are given back)."""
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        call()
    lost = before - sys.getrefcount(True)
    for _ in range(max(lost, 0)):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return lost


def _keep_reference(method):
    """Wrap a SignalInstance method so the object it returns keeps its reference."""

    def keeping_reference(self, *args):
        result = method(self, *args)
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
        return result

    return keeping_reference


def _repair_signal_instance() -> None:
    source = _Probe()
    slots = [lambda: None for _ in range(_PROBES)]
    for slot in slots:
        source.probe.connect(slot)
    pending = iter(slots)
    if _true_references_lost(lambda: source.probe.disconnect(next(pending))) >= _PROBES - 1:
        SignalInstance.disconnect = _keep_reference(SignalInstance.disconnect)
    if _true_references_lost(source.probe.emit) >= _PROBES - 1:
        SignalInstance.emit = _keep_reference(SignalInstance.emit)


_repair_signal_instance()
