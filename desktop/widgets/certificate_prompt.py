"""The question a wss:// server's unknown or changed certificate raises: its fingerprint, for
the person to compare with the one the host shows; trusted (and joined) only on an explicit yes."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMessageBox, QWidget

__all__ = ["ask_to_trust"]



def ask_to_trust(parent: QWidget, changed: bool, fingerprint: str, trust: Callable[[], None]) -> QMessageBox:
    """Open (never exec) the question; ``trust`` runs on Yes. Keep the box while it is shown."""
    if changed:
        question = QCoreApplication.translate(
            "CertificatePrompt", "This server now presents a different certificate. Someone may be "
            "listening in, or the host made a new one.\n\nSHA-256: %1\n\nTrust the new certificate?")
    else:
        question = QCoreApplication.translate(
            "CertificatePrompt", "Compare this fingerprint with the one the host shows.\n\nSHA-256: %1\n\nTrust this server?")
    box = QMessageBox(QMessageBox.Icon.Warning if changed else QMessageBox.Icon.Question,
                      QCoreApplication.translate("CertificatePrompt", "Server certificate"),
                      question.replace("%1", fingerprint),
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.finished.connect(
        lambda _result: trust() if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes else None)
    box.open()
    return box
