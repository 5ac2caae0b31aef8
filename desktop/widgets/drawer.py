"""The sidebar as a drawer: beside the chat on wide windows, folded away on narrow ones.

Below :data:`NARROW_BELOW` pixels the sidebar (about 270 px) would squeeze the chat
column until the message box's hint wraps and clips, so it folds away by itself; the ☰
button in the chat's header opens and closes it at any width. Crossing the threshold
again lets the width decide once more.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QToolButton, QWidget

__all__ = ["SidebarDrawer", "NARROW_BELOW", "SIDEBAR_WIDTH"]

SIDEBAR_WIDTH = 270
NARROW_BELOW = 760
"""Window widths below this fold the sidebar away (the chat keeps at least ~490 px)."""


class SidebarDrawer(QObject):
    """Owns the sidebar's scroll area and the header with the toggle; follows the window's width.

    Attributes:
        area: the scroll area holding the sidebar (goes into the window's row layout).
        header: the chat column's top bar (toggle button and room title).
    """

    def __init__(self, window: QWidget, sidebar: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._narrow: bool | None = None
        self.area = QScrollArea(window)
        self.area.setObjectName("sidebarScroll")
        self.area.setWidget(sidebar)
        self.area.setWidgetResizable(True)
        self.area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.area.setFixedWidth(SIDEBAR_WIDTH)

        self.header = QFrame(window)
        self.header.setObjectName("chatHeader")
        layout = QHBoxLayout(self.header)
        layout.setContentsMargins(8, 4, 12, 4)
        layout.setSpacing(8)
        self.toggle = QToolButton(self.header)
        self.toggle.setObjectName("sidebarToggle")
        self.toggle.setText("☰")
        self.toggle.setCheckable(True)
        self.toggle.setChecked(True)
        self.toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        self.toggle.toggled.connect(self.area.setVisible)
        self.title = QLabel(self.header)
        self.title.setObjectName("chatTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.mute = QToolButton(self.header)
        self.mute.setObjectName("muteToggle")
        self.mute.setCheckable(True)
        self.mute.setCursor(Qt.CursorShape.PointingHandCursor)
        self.mute.toggled.connect(self._show_mute)
        layout.addWidget(self.toggle)
        layout.addWidget(self.title, 1)
        layout.addWidget(self.mute)
        window.installEventFilter(self)
        self.retranslate_ui()

    @property
    def open(self) -> bool:
        return self.toggle.isChecked()

    def set_open(self, is_open: bool) -> None:
        self.toggle.setChecked(is_open)

    def set_title(self, text: str) -> None:
        self.title.setText(text)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if watched is self._window and event.type() == QEvent.Type.Resize:
            narrow = event.size().width() < NARROW_BELOW
            if narrow != self._narrow:
                self._narrow = narrow
                self.set_open(not narrow)
        elif watched is self._window and event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        return False

    def _show_mute(self, muted: bool) -> None:
        self.mute.setText("🔕" if muted else "🔔")
        self.mute.setToolTip(self.tr("Notifications muted: only mentions and private messages alert you")
                             if muted else self.tr("Mute this room's notifications"))

    def retranslate_ui(self) -> None:
        self.toggle.setToolTip(self.tr("Show or hide the sidebar"))
        self._show_mute(self.mute.isChecked())
