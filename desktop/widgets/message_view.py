"""The scrolling message list: sticks to the newest message unless the user scrolled up."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QPushButton

from desktop.models import DeliveryState, MessageModel, Role
from desktop.widgets.bubbles import BubbleDelegate

__all__ = ["MessageView"]

STICK_SLACK = 8  # pixels from the bottom that still count as "at the bottom"
BATCH_SIZE = 500  # rows laid out per event-loop turn: keeps a 100,000-row relayout from stalling


class MessageView(QListView):
    """A QListView of bubbles with a floating "N new messages" button.

    Signals:
        retryRequested(str): resend the failed own message with this nonce.
    """

    retryRequested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageView")
        self.setUniformItemSizes(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(BATCH_SIZE)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMouseTracking(True)
        self.verticalScrollBar().setSingleStep(24)
        self.bubbles = BubbleDelegate(self)
        self.bubbles.retryRequested.connect(self.retryRequested)
        self.setItemDelegate(self.bubbles)
        self._stuck = True
        self._unseen = 0
        self._width = -1
        self.jump_button = QPushButton(self.viewport())
        self.jump_button.setObjectName("jumpButton")
        self.jump_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.jump_button.hide()
        self.jump_button.clicked.connect(self.jump_to_bottom)
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._range_changed)
        bar.valueChanged.connect(self._value_changed)

    # Model ----------------------------------------------------------------

    def setModel(self, model: MessageModel) -> None:  # noqa: N802 (Qt override)
        super().setModel(model)
        model.rowsInserted.connect(self._rows_inserted)
        model.dataChanged.connect(self._data_changed)
        model.modelReset.connect(self._model_reset)

    def _rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if not self._stuck:
            self._unseen += last - first + 1
            self._show_jump_button()

    def _data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, roles=()) -> None:
        model = self.model()
        if bottom_right.row() - top_left.row() > 64:
            self.bubbles.forget()
        else:
            for row in range(top_left.row(), bottom_right.row() + 1):
                self.bubbles.forget(model.item(row))
        self.scheduleDelayedItemsLayout()

    def _model_reset(self) -> None:
        self.bubbles.forget()
        self._stuck = True
        self._unseen = 0
        self.jump_button.hide()

    # Sticking to the bottom ----------------------------------------------

    @property
    def stuck_to_bottom(self) -> bool:
        return self._stuck

    @property
    def unseen(self) -> int:
        return self._unseen

    def _range_changed(self, minimum: int, maximum: int) -> None:
        if self._stuck:
            self.verticalScrollBar().setValue(maximum)

    def _value_changed(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._stuck = value >= bar.maximum() - STICK_SLACK
        if self._stuck and self._unseen:
            self._unseen = 0
            self.jump_button.hide()

    def jump_to_bottom(self) -> None:
        self._stuck = True
        self._unseen = 0
        self.jump_button.hide()
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def _show_jump_button(self) -> None:
        if self._unseen == 1:
            text = self.tr("1 new message ↓")
        else:
            text = self.tr("%1 new messages ↓").replace("%1", str(self._unseen))
        self.jump_button.setText(text)
        self.jump_button.adjustSize()
        self._place_jump_button()
        self.jump_button.show()
        self.jump_button.raise_()

    def _place_jump_button(self) -> None:
        area = self.viewport().rect()
        size = self.jump_button.sizeHint()
        self.jump_button.setGeometry((area.width() - size.width()) // 2,
                                     area.height() - size.height() - 12, size.width(), size.height())

    def resizeEvent(self, event) -> None:  # noqa: N802
        if self.viewport().width() != self._width:
            self._width = self.viewport().width()
            self.bubbles.forget()
        super().resizeEvent(event)
        self._place_jump_button()
        if self._stuck:
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange and self._unseen:
            self._show_jump_button()
        super().changeEvent(event)

    # Pointer --------------------------------------------------------------

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        index = self.indexAt(event.position().toPoint())
        url = None
        if index.isValid():
            url = self.bubbles.link_at(index.data(Role.ITEM), self.visualRect(index), event.position())
        cursor = Qt.CursorShape.PointingHandCursor if url else Qt.CursorShape.ArrowCursor
        self.viewport().setCursor(cursor)
        super().mouseMoveEvent(event)

    def contextMenuEvent(self, event) -> None:  # noqa: N802
        index = self.indexAt(event.pos())
        if not index.isValid():
            return
        item = index.data(Role.ITEM)
        menu = QMenu(self)
        copy = menu.addAction(self.tr("Copy text"))
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(item.text))
        if item.state is DeliveryState.FAILED and item.nonce:
            retry = menu.addAction(self.tr("Retry sending"))
            retry.triggered.connect(lambda: self.retryRequested.emit(item.nonce))
        menu.popup(event.globalPos())
