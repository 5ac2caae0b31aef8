"""The card at the top of the chat area while hosting: where others join, and a QR code.

It shows the browser address (with a QR code a phone camera reads) and the address for the
RoomChat app, each with a Copy button that confirms, the result of the address self-test,
and, once the host serves TLS, the certificate's fingerprint for guests to compare with a word
on the warning browsers show for a self-signed certificate. It is
laid out to stay fully visible at the window's minimum size: labels above addresses, and
long addresses (a key in the query) wrap.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import segno
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.reachability import Reachability
from desktop.widgets.copy_feedback import copy_label, copy_with_feedback

__all__ = ["ShareCard", "qr_image", "QR_SIZE", "SHARE_CARD_STYLE"]

SHARE_CARD_STYLE = """
#shareCard { background: #f6f7ff; border-bottom: 1px solid #d6d9ff; }
#shareCard QLabel { color: #2d2d44; }
#shareTitle { font-weight: bold; font-size: 11pt; }
#shareCard #shareKind { color: #6b6b80; font-size: 8.5pt; }
#shareCard #shareUrl { color: #1e1b4b; font-family: monospace; font-size: 10pt; }
#shareCard #shareFingerprint { color: #44445a; font-family: monospace; font-size: 8pt; }
#shareCard #shareTlsNote { color: #44445a; font-size: 8.5pt; }
#shareCard #shareCheck { font-size: 9pt; }
#shareCard #shareCheck[tone="ok"] { color: #15803d; }
#shareCard #shareCheck[tone="bad"] { color: #b45309; }
#shareCopy, #shareHide {
    color: #ffffff; background: #646cff; border: none; border-radius: 4px; padding: 3px 10px;
}
#shareCopy[copied="true"] { background: #16a34a; }
#shareHide, #shareWhy { background: transparent; color: #646cff; }
#shareWhy { border: none; padding: 0 4px; font-size: 8.5pt; }
"""
"""The card's part of the window's style sheet."""

QR_SIZE = 132
"""Side of the QR code in pixels (a phone reads it from the screen at arm's length)."""

_BREAK = "\u200b"
"""Zero-width space: lets a long address wrap after / ? & = without changing what is copied."""


def qr_image(text: str, size: int = QR_SIZE) -> QImage:
    """A QR code (never a Micro QR: phones cannot read those) of ``text``, at least ``size`` px."""
    code = segno.make_qr(text, error="m")
    modules = code.symbol_size(scale=1, border=4)[0]
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=max(1, -(-size // modules)), border=4)
    return QImage.fromData(buffer.getvalue())


def _breakable(url: str) -> str:
    for mark in "/?&=":
        url = url.replace(mark, mark + _BREAK)
    return url


def _shown(url: str) -> str:
    """The address as the card prints it: without the ``#fp=`` fragment, which no one types
    (the Copy button and the QR code carry it; the fingerprint has its own line)."""
    return _breakable(url.split("#", 1)[0])


def _fingerprint_lines(fingerprint: str) -> tuple[str, str]:
    """``AB:CD:…`` as two halves of 16 bytes, the way people read it out and compare it."""
    pairs = fingerprint.split(":")
    return ":".join(pairs[:16]), ":".join(pairs[16:])


class ShareCard(QFrame):
    """Addresses to share while hosting.

    Signals:
        hideRequested(): the person closed the card (the host panel can bring it back).
    """

    hideRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("shareCard")
        self._addresses: list[tuple[str, str]] = []
        self._checks: dict[str, Reachability] = {}
        self._fingerprint: str | None = None

        self.qr = QLabel(self)
        self.qr.setObjectName("shareQr")
        self.qr.setFixedSize(QR_SIZE, QR_SIZE)
        self.qr.setScaledContents(True)

        self.title = QLabel(self)
        self.title.setObjectName("shareTitle")
        self.choice = QComboBox(self)
        self.choice.setObjectName("shareChoice")
        self.choice.currentIndexChanged.connect(self._show_current)
        self.hide_button = QToolButton(self)
        self.hide_button.setObjectName("shareHide")
        self.hide_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.hide_button.clicked.connect(self.hideRequested)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        head.addWidget(self.choice)
        head.addWidget(self.hide_button)

        self.browser_kind, self.browser_url, self.browser_copy = self._address_row("browser")
        self.app_kind, self.app_url, self.app_copy = self._address_row("app")
        rows = QGridLayout()
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setHorizontalSpacing(8)
        rows.setVerticalSpacing(0)
        for row, (kind, url, copy) in enumerate(((self.browser_kind, self.browser_url, self.browser_copy),
                                                  (self.app_kind, self.app_url, self.app_copy))):
            rows.addWidget(kind, row * 2, 0, 1, 2)
            rows.addWidget(url, row * 2 + 1, 0)
            rows.addWidget(copy, row * 2 + 1, 1, Qt.AlignmentFlag.AlignTop)
        rows.setColumnStretch(0, 1)

        self.fingerprint_label = QLabel(self)
        self.fingerprint_label.setObjectName("shareFingerprint")
        self.fingerprint_label.setWordWrap(True)
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fingerprint_label.hide()
        self.tls_note = QLabel(self)
        self.tls_note.setObjectName("shareTlsNote")
        self.tls_note.setWordWrap(True)
        self.tls_note.setTextFormat(Qt.TextFormat.PlainText)
        self.why_button = QToolButton(self)
        self.why_button.setObjectName("shareWhy")
        self.why_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.why_button.clicked.connect(self.explain_warning)
        self.warning_box: QMessageBox | None = None
        """The open explanation of the browsers' warning, if any."""
        note = QHBoxLayout()
        note.setContentsMargins(0, 0, 0, 0)
        note.addWidget(self.tls_note, 1)
        note.addWidget(self.why_button, 0, Qt.AlignmentFlag.AlignTop)
        self.tls_row = QWidget(self)
        self.tls_row.setLayout(note)
        self.tls_row.hide()
        self.check_label = QLabel(self)
        self.check_label.setObjectName("shareCheck")
        self.check_label.setWordWrap(True)
        self.check_label.setTextFormat(Qt.TextFormat.PlainText)

        text = QVBoxLayout()
        text.setContentsMargins(0, 0, 0, 0)
        text.setSpacing(3)
        text.addLayout(head)
        text.addLayout(rows)
        text.addWidget(self.fingerprint_label)
        text.addWidget(self.tls_row)
        text.addWidget(self.check_label)
        text.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(14)
        layout.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)
        self.retranslate_ui()

    def _address_row(self, name: str) -> tuple[QLabel, QLabel, QToolButton]:
        kind = QLabel(self)
        kind.setObjectName("shareKind")
        url = QLabel(self)
        url.setObjectName("shareUrl")
        url.setWordWrap(True)
        url.setTextFormat(Qt.TextFormat.PlainText)
        url.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        copy = QToolButton(self)
        copy.setObjectName("shareCopy")
        copy.setCursor(Qt.CursorShape.PointingHandCursor)
        copy.setText(copy_label())
        copy.clicked.connect(lambda: copy_with_feedback(copy, self.current[0 if name == "app" else 1]))
        return kind, url, copy

    # State ------------------------------------------------------------------------------

    @property
    def current(self) -> tuple[str, str]:
        """The (app ws URL, browser http URL) shown."""
        index = max(0, self.choice.currentIndex())
        return self._addresses[index] if self._addresses else ("", "")

    def show_addresses(self, addresses: Sequence[tuple[str, str]], fingerprint: str | None = None) -> None:
        """(ws URL, http URL) pairs, LAN first; ``fingerprint``: the TLS certificate's SHA-256,
        shown for guests to compare (None: the host serves no TLS)."""
        self._addresses = list(addresses)
        self._checks = {}
        self._fingerprint = fingerprint
        blocked = self.choice.blockSignals(True)
        self.choice.clear()
        for ws_url, _ in self._addresses:
            self.choice.addItem(urlsplit(ws_url).hostname or ws_url)
        self.choice.setCurrentIndex(0)
        self.choice.blockSignals(blocked)
        self.choice.setVisible(len(self._addresses) > 1)
        self.fingerprint_label.setVisible(fingerprint is not None)
        self.tls_row.setVisible(fingerprint is not None)
        self._show_current()

    def set_checks(self, results: Mapping[str, Reachability]) -> None:
        """Self-test results by address (host IP): failures are marked with their cause."""
        self._checks = dict(results)
        for index in range(self.choice.count()):
            host = urlsplit(self._addresses[index][0]).hostname or ""
            result = self._checks.get(host)
            mark = "" if result is None else " ✓" if result.ok else " ⚠"
            self.choice.setItemText(index, host + mark)
        self._show_current()

    def _show_current(self) -> None:
        ws_url, http_url = self.current
        self.app_url.setText(_shown(ws_url))
        self.browser_url.setText(_shown(http_url))
        self.qr.setPixmap(QPixmap.fromImage(qr_image(http_url)) if http_url else QPixmap())
        self.qr.setToolTip(http_url)
        self._render_texts()

    def _render_texts(self) -> None:
        if self._fingerprint is not None:
            first, second = _fingerprint_lines(self._fingerprint)
            self.fingerprint_label.setText(f"SHA-256 {first}\n{' ' * 8}{second}")
            self.tls_note.setText(self.tr("Browsers will warn: go on only if the SHA-256 matches."))
            self.tls_note.setToolTip(self.warning_text())
        host = urlsplit(self.current[0]).hostname or ""
        result = self._checks.get(host)
        if result is None:
            text, tone = (self.tr("Checking that others can reach this address…") if self._addresses else ""), "neutral"
        elif result.ok:
            text, tone = self.tr("✓ Reachable at %1 (checked from this computer)").replace("%1", host), "ok"
        else:
            text, tone = self.tr("⚠ %1 does not answer: %2").replace("%1", host).replace(
                "%2", result.cause_text()), "bad"
        self.check_label.setText(text)
        self.check_label.setProperty("tone", tone)
        self.check_label.style().unpolish(self.check_label)
        self.check_label.style().polish(self.check_label)

    def warning_text(self) -> str:
        """What the browsers' warning means and what to compare, in plain words."""
        return self.tr(
            "A browser will say that the connection is not private. It says so because this computer "
            "made its own certificate and no certificate authority signed it; the connection is still "
            "encrypted.\n\nOn the warning page, open the certificate's details. If its SHA-256 "
            "fingerprint is\n%1\nit is this computer: continue. If it differs, someone else "
            "answered: do not continue.\n\nThe RoomChat app checks the fingerprint by itself when "
            "it joins by these links or this code.").replace("%1", "\n".join(_fingerprint_lines(self._fingerprint or "")))

    def explain_warning(self) -> None:
        """The long explanation, in a box that does not block (``open()``, not ``exec()``)."""
        box = QMessageBox(QMessageBox.Icon.Information, self.tr("Browsers' certificate warning"),
                          self.warning_text(), QMessageBox.StandardButton.Ok, self)
        box.finished.connect(lambda _result: setattr(self, "warning_box", None))
        self.warning_box = box
        box.open()

    # Language ---------------------------------------------------------------------------

    def retranslate_ui(self) -> None:
        self.title.setText(self.tr("Others join at"))
        self.hide_button.setText(self.tr("Hide"))
        self.hide_button.setToolTip(self.tr("Hide this card (the host panel shows it again)"))
        self.browser_kind.setText(self.tr("In a web browser (or scan the code)"))
        self.app_kind.setText(self.tr("In the RoomChat app"))
        self.why_button.setText(self.tr("Why?"))
        for button in (self.browser_copy, self.app_copy):
            if not button.property("copied"):
                button.setText(copy_label())
        self._render_texts()

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        super().changeEvent(event)
