"""The "Host a room" switch and its options: port, optional key, showing the room on the network,
encrypting it (TLS with the app's own certificate, desktop/certificate.py).

Where others join is on the share card at the top of the chat area (desktop/widgets/share_card.py);
this panel only brings the card back once it was hidden.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

__all__ = ["HostPanel"]


class HostPanel(QFrame):
    """A checkable switch and the options that apply from the next start.

    Signals:
        hostingToggled(bool): the user flipped the switch.
        shareCardRequested(): the user wants the hidden share card back.
    """

    hostingToggled = Signal(bool)
    shareCardRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("hostPanel")
        self.switch = QCheckBox(self)
        self.switch.setObjectName("hostSwitch")
        self.switch.setCursor(Qt.CursorShape.PointingHandCursor)
        self.switch.toggled.connect(self.hostingToggled)

        self.port_label = QLabel(self)
        self.port_spin = QSpinBox(self)
        self.port_spin.setObjectName("portSpin")
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(8080)
        self.key_label = QLabel(self)
        self.key_edit = QLineEdit(self)
        self.key_edit.setObjectName("hostKey")
        self.key_edit.setMaxLength(64)
        self.announce_switch = QCheckBox(self)
        self.announce_switch.setObjectName("announceSwitch")
        self.announce_switch.setChecked(True)
        self.tls_switch = QCheckBox(self)
        self.tls_switch.setObjectName("tlsSwitch")
        options = QGridLayout()
        options.setContentsMargins(0, 0, 0, 0)
        options.addWidget(self.port_label, 0, 0)
        options.addWidget(self.port_spin, 0, 1)
        options.addWidget(self.key_label, 1, 0, 1, 2)
        options.addWidget(self.key_edit, 2, 0, 1, 2)
        options.addWidget(self.announce_switch, 3, 0, 1, 2)
        options.addWidget(self.tls_switch, 4, 0, 1, 2)

        self.show_card_button = QPushButton(self)
        self.show_card_button.setObjectName("showCardButton")
        self.show_card_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.show_card_button.clicked.connect(self.shareCardRequested)
        self.show_card_button.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(6)
        layout.addWidget(self.switch)
        layout.addLayout(options)
        layout.addWidget(self.show_card_button)
        self.retranslate_ui()

    @property
    def key(self) -> str | None:
        return self.key_edit.text().strip() or None

    @property
    def announce(self) -> bool:
        """"Show this room on the network" (mDNS), on by default."""
        return self.announce_switch.isChecked()

    @property
    def tls(self) -> bool:
        """"Encrypt (TLS)": serve https:// and wss:// (the key and the chat never go in clear)."""
        return self.tls_switch.isChecked()

    def set_hosting(self, hosting: bool) -> None:
        """Reflect the host's real state without re-emitting hostingToggled."""
        blocked = self.switch.blockSignals(True)
        self.switch.setChecked(hosting)
        self.switch.blockSignals(blocked)
        for option in (self.port_spin, self.key_edit, self.announce_switch, self.tls_switch):
            option.setEnabled(not hosting)
        if not hosting:
            self.show_card_button.hide()

    def retranslate_ui(self) -> None:
        self.switch.setText(self.tr("Host a room on this computer"))
        self.port_label.setText(self.tr("Port"))
        self.key_label.setText(self.tr("Require a key (optional)"))
        self.key_edit.setPlaceholderText(self.tr("no key"))
        self.announce_switch.setText(self.tr("Show this room on the network"))
        self.tls_switch.setText(self.tr("Encrypt (TLS)"))
        self.tls_switch.setToolTip(self.tr("Serve https:// and wss:// with this computer's own certificate, "
                                           "so the key and the messages never cross the network in clear"))
        self.show_card_button.setText(self.tr("Show where others join"))

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        super().changeEvent(event)
