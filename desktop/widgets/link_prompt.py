"""Asking before a link from a message is opened: the person sees its full target first.

A message's text is written by whoever sent it (or by a hostile host): the visible words of
a link can hide direction overrides, look-alike letters or an unexpected host. The prompt
shows the target as the browser will get it, fully encoded: an international host in its
``xn--`` form and every invisible or reordering character as a ``%XX`` escape.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

__all__ = ["LinkPrompt", "shown_target"]


def shown_target(url: str) -> str:
    """The URL as it will be opened, in plain ASCII."""
    return bytes(QUrl(url).toEncoded()).decode("ascii")


class LinkPrompt:
    """Owns the open question (a non-blocking dialog; ``open()``, never ``exec()``)."""

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        self.box: QMessageBox | None = None
        self.open_button = None  # the "Open" button of the box shown

    def ask(self, url: str) -> None:
        """Show the full target; the link opens only after "Open" is clicked."""
        if self.box is not None:
            self.box.close()
        box = QMessageBox(QMessageBox.Icon.Question, QCoreApplication.translate("LinkPrompt", "Open link"),
                          QCoreApplication.translate("LinkPrompt", "Open this link in your browser?"),
                          QMessageBox.StandardButton.NoButton, self._parent)
        box.setInformativeText(shown_target(url))
        self.open_button = box.addButton(QCoreApplication.translate("LinkPrompt", "Open"),
                                         QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _result: self._answered(box, url))
        self.box = box
        box.open()

    def _answered(self, box: QMessageBox, url: str) -> None:
        if box.clickedButton() is self.open_button:
            QDesktopServices.openUrl(QUrl.fromEncoded(shown_target(url).encode()))
        if self.box is box:
            self.box = None
        box.deleteLater()
