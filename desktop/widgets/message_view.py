"""The scrolling message list: sticks to the newest message unless the user scrolled up.

A QListView with rows of different heights lays out *every* row again on each
insertion (and in batched mode collapses the scroll range meanwhile), which at
100,000 messages means seconds per new message. :class:`MessageView` keeps the
height of each row and their running totals itself: an appended message costs
one measurement. Measuring is text shaping (10 us to a few ms a row: a
4000-character word costs far more than "hi"), so a burst or a new width measures
the newest rows for at most MEASURE_BUDGET at once and the rest in slices of the
same budget between events, with an estimate standing in meanwhile: no content,
however long or many, holds the window up.
"""

from __future__ import annotations

import bisect
import time
from itertools import accumulate

from PySide6.QtCore import QEvent, QModelIndex, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QRegion
from PySide6.QtWidgets import QAbstractItemView, QMenu, QPushButton, QStyleOptionViewItem

from desktop.models import Kind, MessageModel, Role
from desktop.widgets.bubbles import BubbleDelegate, can_retry
from desktop.widgets.copy_feedback import copy_with_toast
from desktop.widgets.link_prompt import LinkPrompt

__all__ = ["MessageView"]

STICK_SLACK = 8  # pixels from the bottom that still count as "at the bottom"
HIGHLIGHT_MS = 1600  # how long a message jumped to stays outlined
MEASURE_BUDGET = 0.006  # seconds of measuring at once / per event-loop turn (at least one row)


class MessageView(QAbstractItemView):
    """Bubbles, one per model row, with a floating "N new messages" button.

    Signals:
        retryRequested(str): resend the failed own message with this nonce.
        replyRequested, editRequested, deleteRequested (MessageItem): from the context menu.
    """

    retryRequested = Signal(str)
    replyRequested = Signal(object)
    editRequested = Signal(object)
    deleteRequested = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageView")
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMouseTracking(True)
        self.verticalScrollBar().setSingleStep(24)
        self.thumbnails = None  # desktop.thumbnails.Thumbnails, set by desktop.file_actions
        self.edit_window: float | None = None
        """Seconds a sender may change a message, from the server's welcome (None: not said)."""
        self.bubbles = BubbleDelegate(self)
        self.bubbles.retryRequested.connect(self.retryRequested)
        self.link_prompt = LinkPrompt(self)
        self.bubbles.linkClicked.connect(self.link_prompt.ask)
        self.setItemDelegate(self.bubbles)
        self._heights: list[int] = []
        self._bottoms: list[int] = []
        self._width = 0
        self._stale = (0, 0)  # rows [start, end) whose height is an estimate
        self._remeasure = QTimer(self)
        self._remeasure.setInterval(0)
        self._remeasure.timeout.connect(self._remeasure_slice)
        self._stuck = True
        self._unseen = 0
        self.jump_button = QPushButton(self.viewport())
        self.jump_button.setObjectName("jumpButton")
        self.jump_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.jump_button.hide()
        self.jump_button.clicked.connect(self.jump_to_bottom)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._value_changed)
        self.highlighted = 0  # id of the message show_message() points at, outlined for a moment
        self._unhighlight = QTimer(self)
        self._unhighlight.setSingleShot(True)
        self._unhighlight.setInterval(HIGHLIGHT_MS)
        self._unhighlight.timeout.connect(self._clear_highlight)

    # Model ----------------------------------------------------------------

    def setModel(self, model: MessageModel) -> None:  # noqa: N802 (Qt override)
        super().setModel(model)
        model.rowsMoved.connect(lambda _p, first, _last, _d, row: self._measure_from(min(first, row)))
        self._measure_from(0)

    def _measure(self, first: int, last: int) -> list[int]:
        model, width = self.model(), self._row_width()
        return [self.bubbles.row_height(model.item(row), width) for row in range(first, last + 1)]

    def _measure_newest(self, first: int, last: int) -> tuple[int, list[int]]:
        """Measure rows from ``last`` back towards ``first`` for MEASURE_BUDGET at most.

        Returns the first row measured and the heights from there to ``last``."""
        model, width = self.model(), self._row_width()
        deadline = time.perf_counter() + MEASURE_BUDGET
        heights = []
        row = last
        while row >= first and (not heights or time.perf_counter() < deadline):
            heights.append(self.bubbles.row_height(model.item(row), width))
            row -= 1
        heights.reverse()
        return row + 1, heights

    def _measure_oldest(self, first: int, last: int) -> list[int]:
        """Measure rows from ``first`` on for MEASURE_BUDGET at most (at least one row)."""
        model, width = self.model(), self._row_width()
        deadline = time.perf_counter() + MEASURE_BUDGET
        heights = []
        for row in range(first, last + 1):
            heights.append(self.bubbles.row_height(model.item(row), width))
            if time.perf_counter() >= deadline:
                break
        return heights

    def _measure_from(self, first: int) -> None:
        """Re-measure rows from ``first`` on (after a move, a reset)."""
        count = self.model().rowCount() if self.model() is not None else 0
        self._heights[first:] = self._measure(first, count - 1) if count > first else []
        self._sum_from(first)
        self._relayout()

    def _sum_from(self, first: int) -> None:
        start = self._bottoms[first - 1] if first > 0 else 0
        self._bottoms[first:] = accumulate(self._heights[first:], initial=start)
        self._bottoms.pop(first)  # accumulate's initial value is not a row

    def rowsInserted(self, parent: QModelIndex, first: int, last: int) -> None:  # noqa: N802
        count = last - first + 1
        start, end = self._stale
        if first <= start:
            self._stale = (start + count, end + count)
        elif first < end:
            self._stale = (start, end + count)
        measured_from, measured = self._measure_newest(first, last)
        self._heights[first:first] = [self._estimate()] * (measured_from - first) + measured
        if measured_from > first:
            self._mark_stale(first, measured_from)
        self._sum_from(first)
        super().rowsInserted(parent, first, last)
        if not self._stuck:
            self._unseen += last - first + 1
            self._show_jump_button()
        self._relayout()

    def rowsAboutToBeRemoved(self, parent: QModelIndex, first: int, last: int) -> None:  # noqa: N802
        del self._heights[first:last + 1]
        count = last - first + 1
        start, end = self._stale
        if last < start:
            self._stale = (start - count, end - count)
        elif first < end:
            self._stale = (min(start, first), max(min(start, first), end - count))
        self._sum_from(first)
        super().rowsAboutToBeRemoved(parent, first, last)
        QTimer.singleShot(0, self._relayout)

    def dataChanged(self, top_left: QModelIndex, bottom_right: QModelIndex, roles=()) -> None:  # noqa: N802
        first, last = top_left.row(), bottom_right.row()
        measured_from, measured = self._measure_newest(first, last)
        self._heights[measured_from:last + 1] = measured
        self._sum_from(first)
        if measured_from > first:
            self._mark_stale(first, measured_from)
        super().dataChanged(top_left, bottom_right, roles)
        self._relayout()

    def reset(self) -> None:
        super().reset()
        self._stuck = True
        self._unseen = 0
        self.jump_button.hide()
        if self.model() is not None:
            self._heights.clear()
            self._stale = (0, 0)
            self._measure_from(0)

    # Geometry -------------------------------------------------------------

    def _row_width(self) -> int:
        return max(self.viewport().width(), 200)

    def _top(self, row: int) -> int:
        return self._bottoms[row - 1] if row > 0 else 0

    @property
    def content_height(self) -> int:
        return self._bottoms[-1] if self._bottoms else 0

    def _relayout(self) -> None:
        self.updateGeometries()
        if self._stuck:
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
        self.viewport().update()

    def updateGeometries(self) -> None:  # noqa: N802
        bar = self.verticalScrollBar()
        page = self.viewport().height()
        bar.setPageStep(page)
        bar.setRange(0, max(0, self.content_height - page))
        super().updateGeometries()

    def visualRect(self, index: QModelIndex) -> QRect:  # noqa: N802
        row = index.row()
        if not index.isValid() or row >= len(self._heights):
            return QRect()
        return QRect(0, self._top(row) - self.verticalOffset(), self.viewport().width(), self._heights[row])

    def indexAt(self, point) -> QModelIndex:  # noqa: N802
        y = point.y() + self.verticalOffset()
        row = bisect.bisect_right(self._bottoms, y)
        if y < 0 or row >= len(self._bottoms):
            return QModelIndex()
        return self.model().index(row, 0)

    def show_message(self, row: int) -> None:
        """Scroll row ``row`` to the middle and outline it for a moment (a quote or a search hit)."""
        index = self.model().index(row, 0)
        rect = self.visualRect(index)
        bar = self.verticalScrollBar()
        bar.setValue(bar.value() + rect.center().y() - self.viewport().height() // 2)
        self.highlighted = index.data(Role.ID) or 0
        self._unhighlight.start()
        self.viewport().update()

    def _clear_highlight(self) -> None:
        self.highlighted = 0
        self.viewport().update()

    def scrollTo(self, index: QModelIndex, hint=QAbstractItemView.ScrollHint.EnsureVisible) -> None:  # noqa: N802
        rect = self.visualRect(index)
        bar = self.verticalScrollBar()
        if rect.top() < 0 or hint == QAbstractItemView.ScrollHint.PositionAtTop:
            bar.setValue(bar.value() + rect.top())
        elif rect.bottom() > self.viewport().height() or hint == QAbstractItemView.ScrollHint.PositionAtBottom:
            bar.setValue(bar.value() + rect.bottom() - self.viewport().height())

    def verticalOffset(self) -> int:  # noqa: N802
        return self.verticalScrollBar().value()

    def horizontalOffset(self) -> int:  # noqa: N802
        return 0

    def moveCursor(self, action, modifiers) -> QModelIndex:  # noqa: N802
        return QModelIndex()

    def isIndexHidden(self, index: QModelIndex) -> bool:  # noqa: N802
        return False

    def setSelection(self, rect, flags) -> None:  # noqa: N802
        pass  # messages are not selectable; text is copied from the context menu

    def visualRegionForSelection(self, selection) -> QRegion:  # noqa: N802
        return QRegion()

    def paintEvent(self, event) -> None:  # noqa: N802
        if not self._bottoms:
            return
        painter = QPainter(self.viewport())
        offset = self.verticalOffset()
        area = event.rect()
        row = bisect.bisect_right(self._bottoms, offset + area.top())
        model, width = self.model(), self.viewport().width()
        option = QStyleOptionViewItem()
        option.initFrom(self)
        while row < len(self._bottoms) and self._top(row) < offset + area.bottom() + 1:
            option.rect = QRect(0, self._top(row) - offset, width, self._heights[row])
            self.bubbles.paint(painter, option, model.index(row, 0))
            row += 1
        painter.end()

    # Width changes ---------------------------------------------------------

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.viewport().width() != self._width:
            self._width = self.viewport().width()
            self._start_remeasure()
        self._relayout()
        self._place_jump_button()

    def _estimate(self) -> int:
        """A stand-in height until a row is measured: the last measured one's, else a one-liner's."""
        return self._heights[-1] if self._heights else 48

    def _mark_stale(self, start: int, end: int) -> None:
        old_start, old_end = self._stale
        if old_end > old_start:
            start, end = min(start, old_start), max(end, old_end)
        self._stale = (start, end)
        self._remeasure.start()

    def _start_remeasure(self) -> None:
        """Re-measure every row for a new width: the last screenful now, the rest in slices."""
        count = len(self._heights)
        if not count:
            return
        tail, measured = self._measure_newest(0, count - 1)
        self._heights[tail:] = measured
        self._sum_from(tail)
        if tail:
            self._mark_stale(0, tail)

    def _remeasure_slice(self) -> None:
        start, end = self._stale
        stop = min(end, len(self._heights))
        if stop <= start:
            self._stale = (0, 0)
            self._remeasure.stop()
            return
        # Keep what the user looks at in place while rows above it change height.
        anchor = self.indexAt(self.viewport().rect().topLeft()).row() if not self._stuck else -1
        anchor_shift = self._top(anchor) - self.verticalOffset() if anchor >= 0 else 0
        measured = self._measure_oldest(start, stop - 1)
        stop = start + len(measured)
        self._heights[start:stop] = measured
        self._sum_from(start)
        self._stale = (stop, end)
        self.updateGeometries()
        if anchor >= 0:
            self.verticalScrollBar().setValue(self._top(anchor) - anchor_shift)
        self._relayout()

    # Sticking to the bottom ----------------------------------------------

    @property
    def stuck_to_bottom(self) -> bool:
        return self._stuck

    @property
    def unseen(self) -> int:
        return self._unseen

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
        self.message_menu(index.data(Role.ITEM)).popup(event.globalPos())

    def may_still_change(self, item) -> bool:
        """Whether the server's edit window (told in its welcome) still lets its sender change
        ``item``: past it, Edit and Delete are not offered (the server would refuse them)."""
        if self.edit_window is None:
            return True
        return time.time() * 1000 - item.timestamp <= self.edit_window * 1000

    def message_menu(self, item) -> QMenu:
        """The context menu of one message (built apart so tests can trigger its actions)."""
        menu = QMenu(self)
        copy = menu.addAction(self.tr("Copy text"))
        copy.triggered.connect(lambda: copy_with_toast(self.viewport(), item.text))
        if item.kind is not Kind.SYSTEM and item.id and not item.deleted:
            menu.addSeparator()
            reply = menu.addAction(self.tr("Reply"))
            reply.triggered.connect(lambda: self.replyRequested.emit(item))
            if item.kind is Kind.OWN and self.may_still_change(item):
                if item.file is None:  # a shared file cannot be edited, only deleted
                    edit = menu.addAction(self.tr("Edit"))
                    edit.triggered.connect(lambda: self.editRequested.emit(item))
                delete = menu.addAction(self.tr("Delete"))
                delete.triggered.connect(lambda: self.deleteRequested.emit(item))
        if can_retry(item):
            retry = menu.addAction(self.tr("Retry sending"))
            retry.triggered.connect(lambda: self.retryRequested.emit(item.nonce))
        return menu
