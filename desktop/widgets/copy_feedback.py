"""Copying to the clipboard with something to see: the button says "Copied", or a toast shows.

Every Copy in the app goes through here (the host panel's address buttons, the message
menu's "Copy text"), so a click is never silent.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

__all__ = ["COPIED_FOR_MS", "copy_with_feedback", "copy_with_toast", "copy_label"]

COPIED_FOR_MS = 1500
"""How long the "Copied" confirmation stays."""


def copy_label() -> str:
    return QCoreApplication.translate("CopyFeedback", "Copy")


def _copied_label() -> str:
    return QCoreApplication.translate("CopyFeedback", "Copied ✓")


def _timer(owner: QWidget, name: str) -> QTimer:
    """One restore timer per widget: a second click restarts it instead of stacking."""
    timer = owner.findChild(QTimer, name)
    if timer is None:
        timer = QTimer(owner)
        timer.setObjectName(name)
        timer.setSingleShot(True)
    return timer


def copy_with_feedback(button: QAbstractButton, text: str) -> None:
    """Put ``text`` on the clipboard; ``button`` reads "Copied ✓" for a moment, then "Copy"."""
    QGuiApplication.clipboard().setText(text)
    button.setMinimumWidth(max(button.minimumWidth(), button.sizeHint().width()))
    _show_copied(button, True)
    timer = _timer(button, "copyFeedbackTimer")
    if not timer.property("wired"):
        timer.timeout.connect(lambda: _show_copied(button, False))
        timer.setProperty("wired", True)
    timer.start(COPIED_FOR_MS)


def _show_copied(button: QAbstractButton, copied: bool) -> None:
    button.setText(_copied_label() if copied else copy_label())
    button.setProperty("copied", copied)  # the style sheet colours it
    button.style().unpolish(button)
    button.style().polish(button)


def copy_with_toast(area: QWidget, text: str) -> QLabel:
    """Put ``text`` on the clipboard and show "Copied ✓" floating at the bottom of ``area``."""
    QGuiApplication.clipboard().setText(text)
    toast = area.findChild(QLabel, "copyToast")
    if toast is None:
        toast = QLabel(area)
        toast.setObjectName("copyToast")
        toast.setAlignment(Qt.AlignmentFlag.AlignCenter)
        toast.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        _timer(area, "copyToastTimer").timeout.connect(toast.hide)
    toast.setText(_copied_label())
    toast.adjustSize()
    toast.move((area.width() - toast.width()) // 2, area.height() - toast.height() - 56)
    toast.show()
    toast.raise_()
    _timer(area, "copyToastTimer").start(COPIED_FOR_MS)
    return toast
