"""The "Host a room" switch and what belongs to it: port, optional key, addresses to share."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets.copy_feedback import copy_label, copy_with_feedback

__all__ = ["HostPanel"]


class HostPanel(QFrame):
    """A checkable switch; while hosting it lists the LAN addresses, each with a copy button.

    Signals:
        hostingToggled(bool): the user flipped the switch.
        usePortRequested(int): the user accepted the suggested free port.
    """

    hostingToggled = Signal(bool)
    usePortRequested = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("hostPanel")
        self._suggested = 0
        self._error = ""
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
        options = QGridLayout()
        options.setContentsMargins(0, 0, 0, 0)
        options.addWidget(self.port_label, 0, 0)
        options.addWidget(self.port_spin, 0, 1)
        options.addWidget(self.key_label, 1, 0, 1, 2)
        options.addWidget(self.key_edit, 2, 0, 1, 2)

        self.error_label = QLabel(self)
        self.error_label.setObjectName("hostError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.hide()
        self.use_port_button = QPushButton(self)
        self.use_port_button.setObjectName("usePortButton")
        self.use_port_button.clicked.connect(lambda: self.usePortRequested.emit(self._suggested))
        self.use_port_button.hide()

        self.addresses_title = QLabel(self)
        self.addresses_title.setObjectName("fieldLabel")
        self.addresses_title.setWordWrap(True)
        self.addresses_box = QWidget(self)
        self.addresses_layout = QVBoxLayout(self.addresses_box)
        self.addresses_layout.setContentsMargins(0, 0, 0, 0)
        self.addresses_layout.setSpacing(2)
        self.addresses_title.hide()
        self.addresses_box.hide()
        self.copy_buttons: list[QToolButton] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(6)
        layout.addWidget(self.switch)
        layout.addLayout(options)
        layout.addWidget(self.error_label)
        layout.addWidget(self.use_port_button)
        layout.addWidget(self.addresses_title)
        layout.addWidget(self.addresses_box)
        self.retranslate_ui()

    @property
    def key(self) -> str | None:
        return self.key_edit.text().strip() or None

    def set_hosting(self, hosting: bool) -> None:
        """Reflect the host's real state without re-emitting hostingToggled."""
        blocked = self.switch.blockSignals(True)
        self.switch.setChecked(hosting)
        self.switch.blockSignals(blocked)
        self.port_spin.setEnabled(not hosting)
        self.key_edit.setEnabled(not hosting)
        if hosting:
            self.show_error("", 0)

    def show_error(self, reason: str, suggested_port: int) -> None:
        self._error, self._suggested = reason, suggested_port
        self.error_label.setText(reason)
        self.error_label.setVisible(bool(reason))
        self.use_port_button.setVisible(bool(reason) and suggested_port > 0)
        self.use_port_button.setText(self.tr("Use port %1").replace("%1", str(suggested_port)))

    def show_addresses(self, addresses: list[tuple[str, str]]) -> None:
        """Rows of (ws URL for RoomChat, http URL for browsers), each with a copy button."""
        while self.addresses_layout.count():
            widget = self.addresses_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.copy_buttons = []
        for ws_url, http_url in addresses:
            for url, kind in ((ws_url, "RoomChat"), (http_url, self.tr("browser"))):
                self.addresses_layout.addWidget(self._address_row(url, kind))
        self.addresses_title.setVisible(bool(addresses))
        self.addresses_box.setVisible(bool(addresses))

    def _address_row(self, url: str, kind: str) -> QWidget:
        row = QWidget(self.addresses_box)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        label = QLabel(url, row)
        label.setObjectName("addressLabel")
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setToolTip(kind)
        copy = QToolButton(row)
        copy.setObjectName("copyButton")
        copy.setText(copy_label())
        copy.setToolTip(self.tr("Copy %1").replace("%1", url))
        copy.setCursor(Qt.CursorShape.PointingHandCursor)
        copy.clicked.connect(lambda: copy_with_feedback(copy, url))
        copy.setProperty("url", url)
        self.copy_buttons.append(copy)
        layout.addWidget(label, 1)
        layout.addWidget(copy)
        return row

    def retranslate_ui(self) -> None:
        self.switch.setText(self.tr("Host a room on this computer"))
        self.port_label.setText(self.tr("Port"))
        self.key_label.setText(self.tr("Require a key (optional)"))
        self.key_edit.setPlaceholderText(self.tr("no key"))
        self.addresses_title.setText(self.tr("Others join at (ws:// RoomChat, http:// browser):"))
        self.use_port_button.setText(self.tr("Use port %1").replace("%1", str(self._suggested)))
        for button in self.copy_buttons:
            button.setText(copy_label())
            button.setToolTip(self.tr("Copy %1").replace("%1", button.property("url")))

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        super().changeEvent(event)
