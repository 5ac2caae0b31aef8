"""The RoomChat main window: sidebar, bubbles, composer, hosting, language and notifications.

The window owns a :class:`desktop.client.ChatConnection` and a
:class:`desktop.host.RoomHost` and only reacts to their signals; widgets render.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from PySide6.QtCore import QT_TRANSLATE_NOOP, QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.client import (
    BAD_ADDRESS,
    CHANGED_CERTIFICATE,
    MISMATCHED_CERTIFICATE,
    UNTRUSTED_CERTIFICATE,
    ChatConnection,
    ConnectionState,
)
from desktop.failures import Failure, translated
from desktop.fonts import even_cjk_weight
from desktop.host import RoomHost
from desktop.discovery import LanRooms
from desktop.file_actions import FileActions
from desktop.hosting import Hosting
from desktop.i18n import LANGUAGES, Translations
from desktop.mentions import mentions
from desktop.models import MessageModel
from desktop.notify import Notifier
from desktop.settings import DEFAULT_SERVER, Settings
from desktop.unread import UnreadMarker
from desktop.widgets.certificate_prompt import CERTIFICATE_STATUS, ask_to_trust, refuse_mismatch
from desktop.widgets.composer import Composer
from desktop.widgets.drawer import SidebarDrawer
from desktop.widgets.icon import app_icon
from desktop.message_actions import MessageActions
from desktop.widgets.action_bar import ActionBar
from desktop.widgets.message_view import MessageView
from desktop.widgets.network_rooms import NETWORK_ROOMS_STYLE
from desktop.widgets.search_panel import SearchPanel
from desktop.widgets.share_card import SHARE_CARD_STYLE, ShareCard
from desktop.widgets.sidebar import Sidebar
from server.protocol import ChatRecord, ErrorCode, Notice, Welcome

__all__ = ["MainWindow", "STYLE_SHEET"]


TYPING_IDLE_MS = 3000
"""After this long without a keystroke we tell the room we stopped typing."""

MINIMUM_SIZE = QSize(600, 440)
"""The smallest window (the sidebar folds away below 760 px): the share card still fits whole,
with a few lines of messages below it (440, not 400: the TLS fingerprint in Chinese needs it)."""

STYLE_SHEET = """
QMenuBar { background: #1a1a2e; color: #c8c8e0; border-bottom: 1px solid #2c2c48; }
QMenuBar::item:selected { background: #2d2d55; }
#sidebarScroll, #sidebarScroll > QWidget > QWidget { background: #1a1a2e; border: none; }
#sidebarScroll QScrollBar:vertical { background: #1a1a2e; width: 8px; margin: 0; }
#sidebarScroll QScrollBar::handle:vertical { background: #3a3a5a; border-radius: 4px; min-height: 24px; }
#sidebarScroll QScrollBar::add-line, #sidebarScroll QScrollBar::sub-line { height: 0; }
#sidebarScroll QScrollBar::add-page, #sidebarScroll QScrollBar::sub-page { background: none; }
QMainWindow, #chatArea { background: #ffffff; }
#sidebar { background: #1a1a2e; border-right: 1px solid #333333; }
#sidebar QLabel { color: #ffffff; }
#sidebarTitle { font-size: 16pt; font-weight: bold; }
#sidebar #fieldLabel { color: #8a8aa0; font-size: 8.5pt; }
#sidebar QSpinBox::up-button, #sidebar QSpinBox::down-button {
    width: 16px; background: #2d2d44; border: none; border-left: 1px solid #333355;
}
#sidebar QSpinBox::up-arrow { width: 6px; height: 6px; }
#sidebar QLineEdit, #sidebar QSpinBox {
    padding: 6px 8px; border-radius: 6px; border: 1px solid #333355;
    background: #16213e; color: #ffffff; selection-background-color: #646cff;
}
#sidebar QLineEdit:disabled, #sidebar QSpinBox:disabled { color: #9090a8; }
#joinButton, #sendButton, #bannerButton {
    padding: 9px 14px; background: #646cff; color: #ffffff; border: none; border-radius: 6px;
    font-size: 10.5pt;
}
#joinButton:hover, #sendButton:hover, #bannerButton:hover { background: #575ef0; }
#joinButton:disabled { background: #444444; color: #dddddd; }
#sendButton { border-radius: 8px; padding: 10px 20px; }
#sendButton:disabled { background: #cccccc; }
#leaveButton, #retryButton {
    padding: 6px; background: transparent; color: #c8c8e0; border: 1px solid #3a3a5a; border-radius: 6px;
}
#retryButton { color: #ffffff; border-color: #f43f5e; }
#leaveButton:disabled { color: #55556a; border-color: #2a2a40; }
#statusLabel { color: #888888; font-size: 9pt; padding: 6px; }
#statusLabel[tone="online"] { color: #4ade80; }
#statusLabel[tone="offline"] { color: #f43f5e; }
#hostPanel { border-top: 1px solid #2c2c48; border-bottom: 1px solid #2c2c48; }
#hostSwitch { color: #ffffff; spacing: 8px; }
#announceSwitch { color: #c8c8e0; spacing: 8px; }
#copyToast { background: #111827; color: #ffffff; border-radius: 12px; padding: 6px 14px; }
#memberView {
    background: transparent; color: #e0e0f0; border: none; outline: none;
}
#memberView::item { padding: 3px 2px; border-radius: 4px; }
#memberView::item:hover { background: #26264a; }
#memberView::item:selected { background: #2d2d55; color: #ffffff; }
#messageView { background: #ffffff; border: none; }
#composer { background: #ffffff; border-top: 1px solid #eeeeee; }
#messageEdit {
    border: 1px solid #dddddd; border-radius: 8px; padding: 4px 6px; background: #ffffff; color: #111111;
}
#messageEdit:focus { border: 2px solid #111111; }
#privateChip { background: #fef3c7; border: 1px solid #fbbf24; border-radius: 12px; }
#privateChip QLabel { color: #92400e; }
#privateClose { border: none; color: #92400e; background: transparent; }
#typingLabel { color: #888888; font-style: italic; font-size: 9pt; }
#emojiButton, #attachButton { border: none; border-radius: 8px; padding: 6px; font-size: 15pt; background: transparent; }
#attachButton { padding: 6px 0px; font-size: 13pt; }
#emojiButton:hover, #attachButton:hover, #emojiChoice:hover { background: #eef0ff; }
#emojiPicker { background: #ffffff; border: 1px solid #dddddd; border-radius: 8px; }
#emojiChoice { border: none; border-radius: 6px; padding: 3px; font-size: 15pt; }
#charCounter { color: #888888; font-size: 9pt; }
#charCounter[over="true"] { color: #e11d48; font-weight: bold; }
#jumpButton {
    background: #646cff; color: #ffffff; border: none; border-radius: 14px; padding: 6px 14px;
}
#chatHeader { background: #ffffff; border-bottom: 1px solid #eeeeee; }
#sidebarToggle, #muteToggle { border: none; border-radius: 6px; padding: 2px 8px; font-size: 13pt; color: #2d2d44; }
#sidebarToggle:hover, #muteToggle:hover { background: #eef0ff; }
#chatTitle { color: #2d2d44; font-weight: bold; }
#banner { background: #eef0ff; border-bottom: 1px solid #d6d9ff; }
#showCardButton {
    padding: 6px; background: transparent; color: #c7d2fe; border: 1px solid #3a3a5a; border-radius: 6px;
}
#banner QLabel { color: #2d2d44; }
"""


class MainWindow(QMainWindow):
    """The window people double-click.

    Signals:
        closed(): the window was closed; ``closing`` is the shutdown task to await.

    Args:
        settings: remembered name/room/server/language (tests pass an isolated one).
        translations: the app's translator switcher; None = English only.
        host_data_dir: where a hosted room keeps its history (None = the user data dir).
        connection_options: keyword options for ChatConnection (tests shorten backoff).
    """

    closed = Signal()

    def __init__(self, settings: Settings | None = None, translations: Translations | None = None,
                 host_data_dir: Path | None = None, connection_options: dict | None = None,
                 host_options: dict | None = None) -> None:
        super().__init__()
        even_cjk_weight()  # before any Chinese text is drawn
        self.settings = settings if settings is not None else Settings()
        self.translations = translations
        self.host_data_dir = host_data_dir
        self.connection = ChatConnection(self, resume_secrets=self.settings, **(connection_options or {}))
        self.host = RoomHost(self, **{"advertise": True, **(host_options or {})})
        self.model = MessageModel()
        self.unread_marker = UnreadMarker(self.model)
        self.unread = 0
        self._status: tuple[str, str, tuple] = ("neutral", QT_TRANSLATE_NOOP("MainWindow", "Not connected"), ())
        self._typers: list[str] = []
        self._failure = Failure.LOST
        self._failure_detail = ""
        self._join_label = QT_TRANSLATE_NOOP("MainWindow", "Join room")
        self._closing: asyncio.Task | None = None
        self._welcome: Notice | None = None  # "Joined room (N online)", shown after the history
        self._welcomed = False  # joined this room before: a later welcome is a reconnect
        self._tasks: set[asyncio.Task] = set()
        self.setWindowIcon(app_icon())
        self.notifier = Notifier(self, self.windowIcon())
        self.notifier.activated.connect(lambda: (self.showNormal(), self.activateWindow()))

        self.sidebar = Sidebar(self)
        self.drawer = SidebarDrawer(self, self.sidebar)
        self.drawer.mute.toggled.connect(self.notifier.set_muted)
        self.view = MessageView(self)
        self.view.setModel(self.model)
        self.composer = Composer(self)
        self.composer.set_enabled(False)
        self.action_bar = ActionBar(self)
        self.search_panel = SearchPanel(self)
        self.actions = MessageActions(self, self.connection, self.model, self.view, self.composer,
                                      self.action_bar, self.search_panel)
        self.banner = self._make_banner()
        self.share_card = ShareCard(self)

        chat = QWidget(self)
        chat.setObjectName("chatArea")
        chat_layout = QVBoxLayout(chat)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.setSpacing(0)
        chat_layout.addWidget(self.drawer.header)
        chat_layout.addWidget(self.share_card)
        chat_layout.addWidget(self.banner)
        chat_layout.addWidget(self.search_panel)
        chat_layout.addWidget(self.view, 1)
        chat_layout.addWidget(self.action_bar)
        chat_layout.addWidget(self.composer)
        central = QWidget(self)
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.drawer.area)
        row.addWidget(chat, 1)
        self.setCentralWidget(central)
        self.setStyleSheet(STYLE_SHEET + SHARE_CARD_STYLE + NETWORK_ROOMS_STYLE)
        self.setMinimumSize(MINIMUM_SIZE)
        self.resize(1000, 680)

        self._make_menu()
        self._incoming: list[ChatRecord] = []
        self._incoming_flush = QTimer(self)
        self._incoming_flush.setSingleShot(True)
        self._incoming_flush.setInterval(0)
        self._incoming_flush.timeout.connect(self._flush_incoming)
        self._typing_idle = QTimer(self)
        self._typing_idle.setSingleShot(True)
        self._typing_idle.setInterval(TYPING_IDLE_MS)
        self._typing_idle.timeout.connect(lambda: self.connection.set_typing(False))
        self.hosting = Hosting(self)
        self.lan_rooms = LanRooms(self)
        self.files = FileActions(self, self.connection, self.model, self.view, self.composer, self._flush_incoming)
        self._wire()
        self._load_settings()
        self.retranslate_ui()

    # Construction ---------------------------------------------------------

    def _make_banner(self) -> QFrame:
        banner = QFrame(self)
        banner.setObjectName("banner")
        layout = QHBoxLayout(banner)
        layout.setContentsMargins(16, 10, 16, 10)
        self.banner_label = QLabel(banner)
        self.banner_label.setWordWrap(True)  # narrow windows: wrap, never clip
        self.banner_button = QPushButton(banner)
        self.banner_button.setObjectName("bannerButton")
        self.banner_button.clicked.connect(lambda: self._banner_action())
        self._banner_action = lambda: self.sidebar.host_panel.switch.setChecked(True)
        self._banner_texts = lambda: (self.tr("No server yet — host a room on this computer?"),
                                      self.tr("Host a room"))
        self.banner_label.setWordWrap(True)
        layout.addWidget(self.banner_label, 1)
        layout.addWidget(self.banner_button)
        banner.hide()
        return banner

    def _make_menu(self) -> None:
        self.language_menu = self.menuBar().addMenu("")
        self.language_group = QActionGroup(self)
        self.language_actions: dict[str, QAction] = {}
        for code, native in LANGUAGES.items():
            action = QAction(native, self, checkable=True)
            action.setData(code)
            action.triggered.connect(lambda _checked=False, c=code: self.set_language(c))
            self.language_group.addAction(action)
            self.language_menu.addAction(action)
            self.language_actions[code] = action
        current = self.translations.language if self.translations is not None else "en"
        self.language_actions.get(current, self.language_actions["en"]).setChecked(True)

    def _wire(self) -> None:
        c = self.connection
        c.stateChanged.connect(self._state_changed)
        c.joined.connect(self._joined)
        c.messageReceived.connect(self._message_received)
        c.historyReceived.connect(self._history_received)
        c.pendingAdded.connect(self._pending_added)
        c.messageDelivered.connect(self._delivered)
        c.messageRefused.connect(self.model.refuse)
        c.messageFailed.connect(self._failed)
        c.noticeReceived.connect(self._notice)
        c.membersChanged.connect(self._members_changed)
        c.typingChanged.connect(self._typing_changed)
        c.errorReceived.connect(self._error)
        c.connectionFailed.connect(self._connection_failed)
        c.reconnectScheduled.connect(self._reconnect_scheduled)
        s = self.sidebar
        s.join_button.clicked.connect(self._join_if_new)
        for edit in (s.name_edit, s.room_edit, s.server_edit, s.key_edit):
            edit.returnPressed.connect(lambda e=edit: None if e.isReadOnly() else self._join_if_new())
        s.room_edit.textChanged.connect(self._update_join_button)
        s.retry_button.clicked.connect(self.connection.retry_now)
        s.leave_button.clicked.connect(self.leave)
        s.privateRequested.connect(self.composer.set_private)
        self.composer.sendRequested.connect(self._send)
        self.composer.edit.textChanged.connect(self._text_changed)
        self.view.retryRequested.connect(self.connection.retry)

    def _load_settings(self) -> None:
        s = self.sidebar
        s.name_edit.setText(self.settings.name)
        s.room_edit.setText(self.settings.room)
        s.server_edit.setText(self.settings.server or DEFAULT_SERVER)
        self.banner.setVisible(not self.settings.server)

    def apply_arguments(self, args) -> None:
        """Command-line start: prefill the form, host and/or join at once (needs the running loop)."""
        s = self.sidebar
        if args.server:
            s.server_edit.setText(args.server)
        if args.name:
            s.name_edit.setText(args.name[: s.name_edit.maxLength()])
        if args.room:
            s.room_edit.setText(args.room)
        if args.host_room:
            self.hosting.use_port(args.port)
        elif args.name and args.room:
            self.join_from_form()

    # Joining --------------------------------------------------------------

    def join_from_form(self) -> None:
        """Join with what the sidebar's fields say (the Join button, Enter in a field)."""
        s = self.sidebar
        name, room, server = s.name_edit.text().strip(), s.room_edit.text().strip(), s.server_edit.text().strip()
        if not name:
            self._set_status("offline", QT_TRANSLATE_NOOP("MainWindow", "Enter a name first"))
            s.name_edit.setFocus()
            return
        if not room:
            self._set_status("offline", QT_TRANSLATE_NOOP("MainWindow", "Enter a room"))
            s.room_edit.setFocus()
            return
        server = server or DEFAULT_SERVER
        key = s.key_edit.text() or (self.host.key if self._joining_own_host(server) else None)
        if (name, room) != (self.model.own_name, self.connection.room) or server != self.connection.url:
            self.model.clear()
            self.actions.reset()
            self._welcomed = False
            self._typers = []
            self.composer.set_typers([])
        self.model.own_name = name
        self.settings.name, self.settings.room, self.settings.server = name, room, server
        self.banner.hide()
        self.connection.join(server, name, room, key or None)
        self._update_title()

    def _switching_room(self) -> bool:
        """Joined (or joining) one room while the room field names another."""
        typed = self.sidebar.room_edit.text().strip()
        return self.connection.state not in (ConnectionState.OFFLINE, ConnectionState.GAVE_UP) \
            and bool(typed) and typed != self.connection.room

    def _join_if_new(self) -> None:
        """Enter or Join: join when offline, switch when another room is typed; never rejoin."""
        state = self.connection.state
        if state in (ConnectionState.OFFLINE, ConnectionState.GAVE_UP) or self._switching_room():
            self.join_from_form()

    def _update_join_button(self) -> None:
        button, state = self.sidebar.join_button, self.connection.state
        switching = self._switching_room()
        button.setEnabled(state in (ConnectionState.OFFLINE, ConnectionState.GAVE_UP) or switching)
        button.setText(self.tr("Switch room") if switching else self.tr(self._join_label))
        joined = state is ConnectionState.ONLINE
        self.sidebar.room_edit.setToolTip(self.tr("Type another room and press Enter to switch") if joined else "")

    def _joining_own_host(self, server: str) -> bool:
        return self.host.running and server.split("#", 1)[0].rstrip("/").endswith(f":{self.host.port}")

    def leave(self) -> None:
        self.connection.leave()
        self.sidebar.set_members(())
        self.composer.set_enabled(False)
        self.composer.clear_private()

    def _state_changed(self, state: str, reason: str) -> None:
        state = ConnectionState(state)
        s = self.sidebar
        labels = {
            ConnectionState.OFFLINE: QT_TRANSLATE_NOOP("MainWindow", "Join room"),
            ConnectionState.CONNECTING: QT_TRANSLATE_NOOP("MainWindow", "Joining…"),
            ConnectionState.ONLINE: QT_TRANSLATE_NOOP("MainWindow", "Joined"),
            ConnectionState.RECONNECTING: QT_TRANSLATE_NOOP("MainWindow", "Reconnecting..."),
            ConnectionState.GAVE_UP: QT_TRANSLATE_NOOP("MainWindow", "Join room"),
        }
        self._join_label = labels[state]
        self._update_join_button()
        s.leave_button.setEnabled(state is not ConnectionState.OFFLINE)
        s.retry_button.setVisible(state in (ConnectionState.RECONNECTING, ConnectionState.GAVE_UP))
        for edit in (s.name_edit, s.server_edit):  # the room stays editable: type another, Enter
            edit.setReadOnly(state is not ConnectionState.OFFLINE and state is not ConnectionState.GAVE_UP)
        self.composer.set_enabled(state is not ConnectionState.OFFLINE)
        if state is ConnectionState.ONLINE:
            self._set_status("online", QT_TRANSLATE_NOOP("MainWindow", "Online in %1"), (self.connection.room,))
        elif state is ConnectionState.CONNECTING:
            self._set_status("neutral", QT_TRANSLATE_NOOP("MainWindow", "Connecting…"))
        elif state is ConnectionState.RECONNECTING:
            self._set_status("offline", QT_TRANSLATE_NOOP("MainWindow", "Reconnecting: %1"), (self._failure,))
        elif state is ConnectionState.GAVE_UP:
            self._set_status("offline", QT_TRANSLATE_NOOP("MainWindow", "Gave up reconnecting: %1"), (self._failure,))
        elif self._status[0] != "offline" or reason in ("left the room", "closed"):
            self._set_status("offline", QT_TRANSLATE_NOOP("MainWindow", "Offline: %1"), (reason,))

    def _connection_failed(self, failure: str, detail: str) -> None:
        self._failure = Failure[failure]
        self._failure_detail = detail

    def _reconnect_scheduled(self, attempt: int, delay: float) -> None:
        """The cause first, from the first failed try on; then when the next try comes."""
        self._set_status("offline", QT_TRANSLATE_NOOP("MainWindow", "%1 — retry %2 in %3 s"),
                         (self._failure, str(attempt), f"{max(1.0, delay):.0f}"))

    def _joined(self, welcome: Welcome) -> None:
        self.settings.remember_join(self.connection.url, welcome.room)
        self.lan_rooms.refresh()
        self.model.own_name = welcome.user_id
        self.view.edit_window = welcome.edit_window
        self.sidebar.own_name = welcome.user_id
        self._members_changed(welcome.members)
        self.composer.set_enabled(True)
        self.composer.edit.setFocus()
        self._update_title()
        if self.connection.protocol_version == 2:  # a v1 server sends its own welcome line
            event = "rejoined" if self._welcomed else "welcome"
            self.unread_marker.catching_up = self._welcomed
            self._welcome = Notice(str(len(welcome.members)), event, welcome.room)
            self._welcomed = True

    def _error(self, code: str, text: str) -> None:
        known = {
            ErrorCode.NAME_TAKEN.value: QT_TRANSLATE_NOOP("MainWindow", "That name is already taken in this room"),
            ErrorCode.BAD_NAME.value: QT_TRANSLATE_NOOP("MainWindow", "That name cannot be used"),
            ErrorCode.BAD_ROOM.value: QT_TRANSLATE_NOOP("MainWindow", "That room name cannot be used"),
            ErrorCode.BAD_KEY.value: QT_TRANSLATE_NOOP("MainWindow", "This room needs the right key")
            if self.connection.key else QT_TRANSLATE_NOOP("MainWindow", "This server requires a room key: enter it"),
            ErrorCode.UNAVAILABLE.value: QT_TRANSLATE_NOOP("MainWindow", "The server cannot store messages right now"),
            BAD_ADDRESS: QT_TRANSLATE_NOOP("MainWindow", "Not a valid server address"),
            **CERTIFICATE_STATUS,
        }
        if code in known:
            self._set_status("offline", known[code])
        else:
            self._set_status("offline", "%1", (text,))
        if code == ErrorCode.BAD_KEY.value:
            self.sidebar.show_key_field()
        elif code in (ErrorCode.NAME_TAKEN.value, ErrorCode.BAD_NAME.value):
            self.sidebar.name_edit.setFocus()
            self.sidebar.name_edit.selectAll()
        elif code == MISMATCHED_CERTIFICATE:
            self.certificate_box = refuse_mismatch(self, self.connection.expected_fingerprint or "", text)
        elif code in (UNTRUSTED_CERTIFICATE, CHANGED_CERTIFICATE):
            self.certificate_box = ask_to_trust(self, code == CHANGED_CERTIFICATE, text,
                                                self.connection.trust_certificate)

    def _set_status(self, tone: str, source: str, args: tuple = ()) -> None:
        """Remember the untranslated status so a language switch can re-render it.

        ``args`` are strings, or Failures rendered in the current language (with their detail).
        """
        self._status = (tone, source, args)
        text = self.tr(source)
        for number, arg in enumerate(args, 1):
            if isinstance(arg, Failure):
                arg = translated(arg) + (f" ({self._failure_detail})" if self._failure_detail else "")
            text = text.replace(f"%{number}", arg)
        self.sidebar.set_status(text, tone)

    # Messages -------------------------------------------------------------

    def _message_received(self, record: ChatRecord) -> None:
        """Collect live messages and insert them together once the loop is idle (one insertion per burst)."""
        self._incoming.append(record)
        self._incoming_flush.start()
        if isinstance(record, ChatRecord) and record.sender != self.model.own_name and not self._attended():
            self.unread += 1
            self.unread_marker.unseen_arrived()
            self._update_title()
            self._notify(record)

    def _flush_incoming(self) -> None:
        """Insert collected live messages; called before any other change so order is kept."""
        self._incoming_flush.stop()
        if self._incoming:
            batch, self._incoming = self._incoming, []
            self.unread_marker.before_live_batch()
            self.model.add_records(batch)

    def _history_received(self, records) -> None:
        self._flush_incoming()
        missed = self.unread_marker.before_history(records, attended=self._attended())
        if missed and not self._attended():
            self.unread += missed
            self._update_title()
        self.model.add_records(records)
        if self._welcome is not None:
            self.model.add_notice(self._welcome, int(time.time() * 1000))
            self._welcome = None

    def _pending_added(self, nonce: str, record: ChatRecord) -> None:
        self._flush_incoming()
        self.model.add_pending(nonce, record)

    def _delivered(self, nonce: str, record: ChatRecord) -> None:
        self._flush_incoming()
        self.model.deliver(nonce, record)

    def _failed(self, nonce: str, reason: str) -> None:
        self._flush_incoming()
        self.model.fail(nonce, reason)

    def _notice(self, notice: Notice) -> None:
        self._flush_incoming()
        self.model.add_notice(notice, int(time.time() * 1000))

    def _members_changed(self, members) -> None:
        self.sidebar.set_members(tuple(members))
        self.composer.set_members([name for name in members if name != self.model.own_name])
        present = set(members)
        self._typers = [name for name in self._typers if name in present]
        self.composer.set_typers(self._typers)
        if self.composer.private_to is not None and self.composer.private_to not in present:
            self.composer.clear_private()

    def _typing_changed(self, member: str, active: bool) -> None:
        if active and member not in self._typers:
            self._typers.append(member)
        elif not active and member in self._typers:
            self._typers.remove(member)
        self.composer.set_typers(self._typers)

    def _send(self, text: str, to: str | None) -> None:
        self._typing_idle.stop()
        self.connection.set_typing(False)
        self.actions.send(text, to)
        self.view.jump_to_bottom()

    def _text_changed(self) -> None:
        if self.composer.edit.toPlainText():
            self.connection.set_typing(True)
            self._typing_idle.start()

    # Unread and notifications --------------------------------------------

    def _attended(self) -> bool:
        return self.isActiveWindow() and not self.isMinimized()

    def _update_title(self) -> None:
        room = self.connection.room
        title = f"RoomChat — {room}" if room else "RoomChat"
        self.setWindowTitle(f"({self.unread}) {title}" if self.unread else title)
        self.drawer.set_title(room if self.connection.state is not ConnectionState.OFFLINE else "")

    def _notify(self, record: ChatRecord) -> None:
        """Alert the person about a message that arrived unseen (desktop.notify)."""
        mentioned = mentions(record.content, self.model.own_name)
        if record.to:
            title = self.tr("Private message from %1")
        elif mentioned:
            title = self.tr("%1 mentioned you")
        else:
            title = self.tr("%1 in RoomChat")
        # Mentions and private messages get through a muted room and a burst's throttle.
        self.notifier.notify(title.replace("%1", record.sender), record.content,
                             urgent=mentioned or record.to is not None)

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.ActivationChange and self._attended():
            self.unread_marker.seen()
            self.notifier.clear()
            if self.unread:
                self.unread = 0
                self._update_title()
        elif event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        super().changeEvent(event)

    # Hosting --------------------------------------------------------------

    def _keep(self, coro) -> asyncio.Task:
        """Start a task and hold a reference until it ends (qasync does not)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def show_banner(self, texts, action) -> None:
        """A notice at the top of the chat area (never scrolled away): ``texts()`` gives its text
        and button label in the current language; ``action`` runs on the button (None: no button)."""
        self._banner_texts = texts
        self._banner_action = action or (lambda: None)
        text, label = texts()
        self.banner_label.setText(text)
        self.banner_button.setText(label)
        self.banner_button.setVisible(action is not None)
        self.banner.show()

    # Language -------------------------------------------------------------

    def set_language(self, code: str) -> None:
        """Switch the UI language now and remember it (LanguageChange retranslates)."""
        self.settings.language = code
        self.language_actions[code].setChecked(True)
        if self.translations is not None:
            self.translations.apply(code)

    def retranslate_ui(self) -> None:
        self.language_menu.setTitle(self.tr("&Language"))
        text, action = self._banner_texts()
        self.banner_label.setText(text)
        self.banner_button.setText(action)
        self._update_join_button()
        tone, source, args = self._status
        self._set_status(tone, source, args)
        self.model.retranslate()
        self._update_title()

    # Closing --------------------------------------------------------------

    async def shutdown(self) -> None:
        """Leave the room cleanly and stop hosting (the app's quit path and tests)."""
        self._typing_idle.stop()
        await self.connection.close()
        await self.files.close()
        others = [task for task in self._tasks if task is not asyncio.current_task()]
        await asyncio.gather(*others, return_exceptions=True)
        await self.lan_rooms.browser.stop()
        await asyncio.get_running_loop().run_in_executor(None, self.host.stop)

    def closeEvent(self, event) -> None:  # noqa: N802
        if self._closing is None and not self.hosting.may_quit():
            event.ignore()  # asked whether to close the rooms; closes again on yes
            return
        if self._closing is None:
            self._closing = self._keep(self.shutdown())
        self.notifier.clear()
        super().closeEvent(event)
        self.closed.emit()

    @property
    def closing(self) -> asyncio.Task | None:
        """The shutdown started by closing the window (main() waits for it)."""
        return self._closing

