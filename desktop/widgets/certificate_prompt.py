"""The question a wss:// server's unknown or changed certificate raises: its fingerprint, for
the person to compare with the one the host shows; trusted (and joined) only on an explicit yes.

A certificate that is not the one the joined link names (``#fp=``) is no question: it is
refused, and the box shows both fingerprints and offers nothing to accept."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.server_certificates import CHANGED_CERTIFICATE, MISMATCHED_CERTIFICATE, UNTRUSTED_CERTIFICATE

__all__ = ["CERTIFICATE_STATUS", "ask_to_trust", "refuse_mismatch"]

CERTIFICATE_STATUS = {
    UNTRUSTED_CERTIFICATE: QT_TRANSLATE_NOOP("MainWindow", "The server's certificate is not trusted yet"),
    CHANGED_CERTIFICATE: QT_TRANSLATE_NOOP("MainWindow", "The server's certificate has changed"),
    MISMATCHED_CERTIFICATE: QT_TRANSLATE_NOOP(
        "MainWindow", "Refused: the server's certificate is not the one in the link (nothing was sent)"),
}
"""Status line texts by error code (context MainWindow: the window renders its status)."""


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


def refuse_mismatch(parent: QWidget, expected: str, presented: str) -> QMessageBox:
    """Open (never exec) the refusal: the link's fingerprint and the one the server presented."""
    text = QCoreApplication.translate(
        "CertificatePrompt", "Not connected: this server's certificate is not the one the link names. Someone "
        "may be pretending to be the host, or the host made a new certificate: ask for a new link.\n\n"
        "The link names:\n%1\n\nThe server presented:\n%2")
    box = QMessageBox(QMessageBox.Icon.Critical, QCoreApplication.translate("CertificatePrompt", "Server certificate"),
                      text.replace("%1", expected).replace("%2", presented), QMessageBox.StandardButton.Ok, parent)
    box.open()
    return box
