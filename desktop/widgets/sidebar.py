"""The dark sidebar: who and where (name, room, server), joining, status, hosting, members."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QVBoxLayout,
)

from desktop.settings import NAME_MAX
from desktop.widgets.host_panel import HostPanel
from desktop.widgets.network_rooms import NetworkRooms

__all__ = ["Sidebar"]


class Sidebar(QFrame):
    """Form and status widgets; MainWindow wires them to the connection.

    Signals:
        privateRequested(str): "Send private message" was chosen on a member.
    """

    privateRequested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.title = QLabel(self)
        self.title.setObjectName("sidebarTitle")
        self.name_label, self.name_edit = self._field("nameEdit", NAME_MAX)
        self.room_label, self.room_edit = self._field("roomEdit", 64)
        self.server_label, self.server_edit = self._field("serverEdit", 200)
        self.key_label, self.key_edit = self._field("keyEdit", 256)
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_label.hide()
        self.key_edit.hide()

        self.join_button = QPushButton(self)
        self.join_button.setObjectName("joinButton")
        self.join_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.status_label = QLabel(self)
        self.status_label.setObjectName("statusLabel")
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.retry_button = QPushButton(self)
        self.retry_button.setObjectName("retryButton")
        self.retry_button.hide()
        self.leave_button = QPushButton(self)
        self.leave_button.setObjectName("leaveButton")
        self.leave_button.setEnabled(False)

        self.host_panel = HostPanel(self)
        self.network_rooms = NetworkRooms(self)

        self.members_label = QLabel(self)
        self.members_label.setObjectName("fieldLabel")
        self.members = QStringListModel(self)
        self.member_view = QListView(self)
        self.member_view.setObjectName("memberView")
        self.member_view.setMinimumHeight(60)
        self.member_view.setMaximumHeight(150)
        self.member_view.setModel(self.members)
        self.member_view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.member_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.member_view.customContextMenuRequested.connect(self._member_menu)
        self.member_view.doubleClicked.connect(lambda index: self.privateRequested.emit(index.data()))
        self.own_name = ""

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 20, 20, 16)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addSpacing(10)
        for label, edit in ((self.name_label, self.name_edit), (self.room_label, self.room_edit),
                            (self.server_label, self.server_edit), (self.key_label, self.key_edit)):
            layout.addWidget(label)
            layout.addWidget(edit)
            layout.addSpacing(6)
        layout.addWidget(self.join_button)
        layout.addWidget(self.status_label)
        layout.addWidget(self.retry_button)
        layout.addWidget(self.leave_button)
        layout.addSpacing(6)
        layout.addWidget(self.network_rooms)
        layout.addSpacing(8)
        layout.addWidget(self.host_panel)  # above the members: seen without scrolling at 640 px
        layout.addSpacing(8)
        layout.addWidget(self.members_label)
        layout.addWidget(self.member_view)
        layout.addStretch(1)
        self.retranslate_ui()

    def _field(self, name: str, max_length: int) -> tuple[QLabel, QLineEdit]:
        label = QLabel(self)
        label.setObjectName("fieldLabel")
        edit = QLineEdit(self)
        edit.setObjectName(name)
        edit.setMaxLength(max_length)
        label.setBuddy(edit)
        return label, edit

    def set_status(self, text: str, tone: str) -> None:
        """tone: "online" (green), "offline" (red) or "neutral" (grey)."""
        self.status_label.setText(text)
        self.status_label.setProperty("tone", tone)
        self.status_label.style().unpolish(self.status_label)
        self.status_label.style().polish(self.status_label)

    def set_members(self, names: tuple[str, ...]) -> None:
        self.members.setStringList(list(names))
        self.members_label.setText(self.tr("Members (%1)").replace("%1", str(len(names))))

    def show_key_field(self) -> None:
        self.key_label.show()
        self.key_edit.show()
        self.key_edit.setFocus()

    def member_menu(self, name: str) -> QMenu:
        """The context menu for one member (built separately so tests can trigger its action)."""
        menu = QMenu(self)
        private = menu.addAction(self.tr("Send private message"))
        private.setEnabled(name != self.own_name)
        private.triggered.connect(lambda: self.privateRequested.emit(name))
        return menu

    def _member_menu(self, pos) -> None:
        index = self.member_view.indexAt(pos)
        if index.isValid():
            self.member_menu(index.data()).popup(self.member_view.viewport().mapToGlobal(pos))

    def retranslate_ui(self) -> None:
        self.title.setText(self.tr("Chat room"))
        self.name_label.setText(self.tr("Name"))
        self.name_edit.setPlaceholderText(self.tr("Your nickname"))
        self.room_label.setText(self.tr("Room"))
        self.room_edit.setPlaceholderText("room-1")
        self.server_label.setText(self.tr("Server address"))
        self.server_edit.setPlaceholderText("ws://192.168.1.5:8080")
        self.key_label.setText(self.tr("Room key"))
        self.retry_button.setText(self.tr("Retry now"))
        self.leave_button.setText(self.tr("Leave"))
        self.members_label.setText(self.tr("Members (%1)").replace("%1", str(self.members.rowCount())))

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        super().changeEvent(event)
