"""Painting chat bubbles: :class:`BubbleDelegate` lays out and draws one message per row.

All user text is plain text: it goes through QTextLayout and drawText, never
through Qt's rich-text engine, so ``<b>x</b>`` shows as those characters.
Words too long for a line wrap anywhere. Row heights are kept by the view
(:class:`desktop.widgets.message_view.MessageView`) per row width.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from PySide6.QtCore import QDateTime, QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QTextCharFormat,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QStyledItemDelegate

from desktop.mentions import mention_spans
from desktop.models import DeliveryState, Kind, MessageItem, Role
from desktop.widgets.composer import CONTENT_MAX
from desktop.widgets.file_bubble import FileGeometry, file_geometry, paint_file

__all__ = ["BubbleDelegate", "find_links", "Palette", "can_retry"]

FINAL_REFUSALS = frozenset({"too_long", "empty", "bad_message"})
"""Refusals that sending the same text again can never overcome: no retry is offered."""


def can_retry(item: MessageItem) -> bool:
    return (item.state is DeliveryState.FAILED and bool(item.nonce) and item.refusal not in FINAL_REFUSALS
            and item.file is None)  # a file is sent again by choosing it again

LINK_PATTERN = re.compile(r"https?://[^\s<>\"'\u2028\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]+",
                          re.IGNORECASE)
"""http(s) links; a link ends at whitespace and at invisible or direction-changing characters."""
_TRAILING_PUNCTUATION = ".,;:!?)]}'\"。，、！？）"


def find_links(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every http/https link; other schemes are never links."""
    links = []
    for match in LINK_PATTERN.finditer(text):
        url = match.group(0).rstrip(_TRAILING_PUNCTUATION)
        if len(url) > len("https://"):
            links.append((match.start(), match.start() + len(url), url))
    return links


class Palette:
    """Colours of the seed's page."""

    OWN = QColor("#646cff")
    OTHER = QColor("#2d2d44")
    BUBBLE_TEXT = QColor("#ffffff")
    SYSTEM_TEXT = QColor("#888888")
    FAILED = QColor("#f43f5e")
    OWN_LINK = QColor("#ffffff")
    OTHER_LINK = QColor("#a5b4fc")
    PRIVATE_OUTLINE = QColor("#fbbf24")
    UNREAD_RULE = QColor("#fda4af")
    UNREAD_TEXT = QColor("#e11d48")
    MENTION_OUTLINE = QColor("#f59e0b")
    MENTION_BACKGROUND = QColor("#fbbf24")
    MENTION_TEXT = QColor("#1a1a2e")
    DELETED = QColor("#9ca3af")
    HIGHLIGHT = QColor("#fbbf24")
    QUOTE_BAR = QColor(255, 255, 255, 180)
    QUOTE_FILL = QColor(0, 0, 0, 46)


# Geometry in pixels
ROW_GAP = 5            # above and below every bubble
SIDE_MARGIN = 20       # between the view's edge and a bubble
PAD_X = 12
PAD_Y = 8
META_GAP = 3           # between the text and the meta line
RADIUS = 8
QUOTE_GAP = 6          # between a reply's quote and its text
QUOTE_PAD = 6          # inside the quote, left of its text (after the bar)
MAX_WIDTH_SHARE = 0.7  # of the row, like the seed's max-width: 70%
MIN_TEXT_WIDTH = 40


@dataclass
class BubbleGeometry:
    """Where things go inside one row (coordinates relative to the row's top left)."""

    bubble: QRectF
    layout: QTextLayout
    text_origin: QPointF
    meta: str
    meta_rect: QRectF
    links: list[tuple[list[QRectF], str]] = field(default_factory=list)
    quote_rect: QRectF | None = None  # a reply's quote of the original (clickable)
    file: FileGeometry | None = None  # a shared file's picture or icon, name, bar and buttons


def _plain(text: str) -> str:
    """QTextLayout breaks lines at U+2028 (same length as '\\n', so offsets hold)."""
    return text.replace("\r\n", " \u2028").replace("\n", "\u2028").replace("\r", "\u2028")


class BubbleDelegate(QStyledItemDelegate):
    """Draws messages as bubbles: own right, others left, notices centred.

    Signals:
        retryRequested(str): the user clicked a failed own message (its nonce).
        quoteClicked(int): the user clicked a reply's quote (the original's id).
        linkClicked(str): the user clicked an http(s) link (opened only after a prompt).
        fileAction(str, MessageItem): a file bubble's button or picture (file_bubble.ACTIONS).
    """

    retryRequested = Signal(str)
    quoteClicked = Signal(int)
    linkClicked = Signal(str)
    fileAction = Signal(str, object)

    def __init__(self, view) -> None:
        super().__init__(view)
        self._view = view
        self._font_set: tuple[QFont, QFont, QFontMetricsF, QFontMetricsF, float, float] | None = None

    # Fonts ----------------------------------------------------------------

    def _fonts(self) -> tuple[QFont, QFont, QFontMetricsF, QFontMetricsF, float, float]:
        """Text and meta fonts, their metrics and one line's height in each (cached per view font)."""
        base = self._view.font()
        if self._font_set is None or self._font_set[0] != base:
            meta = QFont(base)
            meta.setPointSizeF(max(base.pointSizeF() * 0.8, 6.0))
            self._font_set = (base, meta, QFontMetricsF(base), QFontMetricsF(meta),
                              self._line_height(base), self._line_height(meta))
        return self._font_set

    @staticmethod
    def _line_height(font: QFont) -> float:
        layout = QTextLayout("x", font)
        layout.beginLayout()
        line = layout.createLine()
        line.setLineWidth(1000)
        height = line.height()
        layout.endLayout()
        return height

    # Layout ---------------------------------------------------------------

    def _row_width(self) -> int:
        return max(self._view.viewport().width(), 200)

    def _text_layout(self, item: MessageItem, font: QFont, width: float) -> tuple[QTextLayout, float, float]:
        layout = QTextLayout(_plain(item.text), font)
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        if item.kind is Kind.SYSTEM:
            option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.setTextOption(option)
        layout.setCacheEnabled(True)
        height = 0.0
        natural = 0.0
        layout.beginLayout()
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            line.setPosition(QPointF(0, height))
            height += line.height()
            natural = max(natural, line.naturalTextWidth())
        layout.endLayout()
        return layout, natural, height

    def meta_text(self, item: MessageItem) -> str:
        """The small line under a bubble: sender, local time, privacy and delivery state."""
        when = QDateTime.fromMSecsSinceEpoch(item.timestamp).toString("HH:mm") if item.timestamp else ""
        parts = [item.sender, when] if item.sender else [when]
        if item.to is not None:
            if item.kind is Kind.OWN:
                parts.append(self.tr("private to %1").replace("%1", item.to))
            else:
                parts.append(self.tr("private"))
        if item.edited and not item.deleted:
            parts.append(self.tr("edited"))
        if item.state is DeliveryState.PENDING:
            parts.append(self.tr("sending…"))
        elif item.state is DeliveryState.FAILED and item.file is not None:
            parts.append(self.tr("not sent"))
        elif item.state is DeliveryState.FAILED and item.refusal == "too_long":
            parts.append(self.tr("not sent: longer than %1 characters").replace("%1", str(CONTENT_MAX)))
        elif item.state is DeliveryState.FAILED and item.refusal in FINAL_REFUSALS:
            parts.append(self.tr("not sent: the server refused it"))
        elif item.state is DeliveryState.FAILED:
            parts.append(self.tr("not sent — click to retry"))
        return " · ".join(p for p in parts if p)

    @staticmethod
    def _text_width(item: MessageItem, row_width: int) -> float:
        if item.kind is Kind.SYSTEM:
            return row_width - 2 * SIDE_MARGIN
        return max(row_width * MAX_WIDTH_SHARE - 2 * PAD_X, MIN_TEXT_WIDTH)

    @staticmethod
    def _bubble_height(item: MessageItem, text_height: float, meta_height: float) -> float:
        if item.kind is Kind.SYSTEM:
            return text_height + 2 * 4
        return PAD_Y + text_height + META_GAP + meta_height + PAD_Y

    def geometry(self, item: MessageItem, row_width: int) -> BubbleGeometry:
        """Lay out one row; paint, clicks and row heights share this."""
        base, meta_font, _, meta_metrics, _, _ = self._fonts()
        max_text = self._text_width(item, row_width)
        if item.kind is Kind.SYSTEM:
            layout, natural, height = self._text_layout(item, meta_font, max_text)
            bubble = QRectF(SIDE_MARGIN, ROW_GAP, max_text, self._bubble_height(item, height, 0))
            return BubbleGeometry(bubble, layout, QPointF(SIDE_MARGIN, ROW_GAP + 4), "", QRectF())
        if item.file is not None and not item.deleted:
            return self._file_geometry(item, row_width, max_text)
        layout, natural, text_height = self._text_layout(item, self._italic() if item.deleted else base, max_text)
        meta = self.meta_text(item)
        icon = meta_metrics.height() + 4 if item.state is not DeliveryState.DELIVERED or item.to else 0
        meta_width = min(meta_metrics.horizontalAdvance(meta) + icon + 2, max_text)
        quote_height = quote_width = 0.0
        if item.quote is not None:
            quote_height = 2 * meta_metrics.height() + 2 * 3
            quote_width = min(max(meta_metrics.horizontalAdvance(item.quote.sender),
                                  meta_metrics.horizontalAdvance(self.quote_excerpt(item))) + 3 + 2 * QUOTE_PAD,
                              max_text)
        inner_width = max(natural, meta_width, quote_width, 16)
        width = inner_width + 2 * PAD_X
        height = self._bubble_height(item, text_height, meta_metrics.height())
        if quote_height:
            height += quote_height + QUOTE_GAP
        x = row_width - SIDE_MARGIN - width if item.kind is Kind.OWN else SIDE_MARGIN
        bubble = QRectF(x, ROW_GAP, width, height)
        origin = QPointF(x + PAD_X, ROW_GAP + PAD_Y + (quote_height + QUOTE_GAP if quote_height else 0))
        meta_rect = QRectF(origin.x(), origin.y() + text_height + META_GAP, inner_width,
                           meta_metrics.height())
        geometry = BubbleGeometry(bubble, layout, origin, meta, meta_rect)
        if quote_height:
            geometry.quote_rect = QRectF(x + PAD_X, ROW_GAP + PAD_Y, inner_width, quote_height)
        for start, end, url in find_links(item.content):
            geometry.links.append((self._range_rects(layout, origin, start, end), url))
        return geometry

    def _picture(self, item: MessageItem, fetch: bool = False):
        """(thumbnail QImage or None, its size: empty while loading, None for no picture).

        Only painting fetches (``fetch``): measuring the rows of a long history never does."""
        thumbnails = self._view.thumbnails
        if thumbnails is None or item.file is None or not item.file.id or thumbnails.failed(item.file):
            return None, None
        image = thumbnails.image(item.file) if fetch else thumbnails.peek(item.file)
        return image, (image.size() if image is not None else QSize())

    def _file_geometry(self, item: MessageItem, row_width: int, max_text: float) -> BubbleGeometry:
        base, meta_font, _, meta_metrics, _, _ = self._fonts()
        meta = self.meta_text(item)
        icon = meta_metrics.height() + 4 if item.state is not DeliveryState.DELIVERED or item.to else 0
        origin = QPointF(0, ROW_GAP + PAD_Y)
        inside = file_geometry(item, self._picture(item)[1], origin, max_text, base, meta_font)
        inner_width = max(inside.width, min(meta_metrics.horizontalAdvance(meta) + icon + 2, max_text))
        width = inner_width + 2 * PAD_X
        x = row_width - SIDE_MARGIN - width if item.kind is Kind.OWN else SIDE_MARGIN
        inside = file_geometry(item, self._picture(item)[1], QPointF(x + PAD_X, origin.y()), max_text, base, meta_font)
        height = PAD_Y + inside.height + META_GAP + meta_metrics.height() + PAD_Y
        meta_rect = QRectF(x + PAD_X, ROW_GAP + PAD_Y + inside.height + META_GAP, inner_width, meta_metrics.height())
        return BubbleGeometry(QRectF(x, ROW_GAP, width, height), QTextLayout(""), QPointF(), meta, meta_rect,
                              file=inside)

    @staticmethod
    def _range_rects(layout: QTextLayout, origin: QPointF, start: int, end: int) -> list[QRectF]:
        rects = []
        for number in range(layout.lineCount()):
            line = layout.lineAt(number)
            first, last = line.textStart(), line.textStart() + line.textLength()
            if last <= start or first >= end:
                continue
            left = line.cursorToX(max(start, first))[0]
            right = line.cursorToX(min(end, last))[0]
            rects.append(QRectF(origin.x() + left, origin.y() + line.y(), right - left, line.height()))
        return rects

    def row_height(self, item: MessageItem, row_width: int) -> int:
        """Pixel height of a row; one-line ASCII text (most messages) skips the text layout."""
        text = item.text
        _, _, base_metrics, meta_metrics, base_line, meta_line = self._fonts()
        system = item.kind is Kind.SYSTEM
        if item.quote is None and item.file is None and text.isascii() and "\n" not in text and "\r" not in text:
            metrics, line = (meta_metrics, meta_line) if system else (base_metrics, base_line)
            if metrics.horizontalAdvance(text) <= self._text_width(item, row_width):
                bubble = self._bubble_height(item, line, meta_metrics.height())
                return int(ROW_GAP + bubble + ROW_GAP + 0.999)
        return int(self.geometry(item, row_width).bubble.bottom() + ROW_GAP + 0.999)

    def sizeHint(self, option, index) -> QSize:
        item = index.data(Role.ITEM)
        if item is None:
            return QSize(0, 0)
        width = self._row_width()
        return QSize(width, self.row_height(item, width))

    # Painting -------------------------------------------------------------

    def paint(self, painter: QPainter, option, index) -> None:
        item = index.data(Role.ITEM)
        if item is None:
            return
        top_left = QPointF(option.rect.topLeft())
        geometry = self.geometry(item, option.rect.width())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(top_left)
        if item.kind is Kind.SYSTEM and item.event == "unread":
            self._paint_unread_line(painter, geometry)
            painter.restore()
            return
        if item.kind is Kind.SYSTEM:
            painter.setPen(Palette.SYSTEM_TEXT)
            geometry.layout.draw(painter, geometry.text_origin)
            painter.restore()
            return
        own = item.kind is Kind.OWN
        fill = QColor(Palette.DELETED if item.deleted else Palette.OWN if own else Palette.OTHER)
        if item.state is DeliveryState.PENDING:
            fill.setAlphaF(0.55)
        path = QPainterPath()
        path.addRoundedRect(geometry.bubble, RADIUS, RADIUS)
        painter.fillPath(path, fill)
        if item.to is not None:
            painter.setPen(QPen(Palette.PRIVATE_OUTLINE, 1.5, Qt.PenStyle.DashLine))
            painter.drawPath(path)
        if item.state is DeliveryState.FAILED:
            painter.setPen(QPen(Palette.FAILED, 2))
            painter.drawPath(path)
        if item.mentioned:
            painter.setPen(QPen(Palette.MENTION_OUTLINE, 2.5))
            painter.drawPath(path)
        if item.id and item.id == self._view.highlighted:
            painter.setPen(QPen(Palette.HIGHLIGHT, 4))
            painter.drawPath(path)
        painter.setPen(Palette.BUBBLE_TEXT)
        formats = []
        link_colour = Palette.OWN_LINK if own else Palette.OTHER_LINK
        for start, end, _url in find_links(item.content):
            link = QTextLayout.FormatRange()
            link.start, link.length = start, end - start
            char = QTextCharFormat()
            char.setForeground(QBrush(link_colour))
            char.setFontUnderline(True)
            link.format = char
            formats.append(link)
        if item.mentioned:
            formats += self._mention_formats(item)
        if geometry.quote_rect is not None:
            self._paint_quote(painter, item, geometry.quote_rect)
        if geometry.file is not None:
            base, meta_font = self._fonts()[:2]
            paint_file(painter, item, geometry.file, self._picture(item, fetch=True)[0], base, meta_font, Palette.BUBBLE_TEXT)
        else:
            geometry.layout.draw(painter, geometry.text_origin, formats)
        self._paint_meta(painter, item, geometry)
        painter.restore()

    @staticmethod
    def _paint_unread_line(painter: QPainter, geometry: BubbleGeometry) -> None:
        """A red rule with "New messages" in its middle."""
        line = geometry.layout.lineAt(0)
        bubble = geometry.bubble
        middle = bubble.center().y()
        width = line.naturalTextWidth()
        left = bubble.center().x() - width / 2 - 8
        right = bubble.center().x() + width / 2 + 8
        painter.setPen(QPen(Palette.UNREAD_RULE, 1))
        painter.drawLine(QPointF(bubble.left(), middle), QPointF(left, middle))
        painter.drawLine(QPointF(right, middle), QPointF(bubble.right(), middle))
        painter.setPen(Palette.UNREAD_TEXT)
        geometry.layout.draw(painter, geometry.text_origin)  # laid out centred

    def _mention_formats(self, item: MessageItem) -> list[QTextLayout.FormatRange]:
        """"@ourname" on a yellow marker (colours only: the layout's widths stay as measured)."""
        ranges = []
        own = self._view.model().own_name
        for start, end, _name in mention_spans(item.content, (own,)):
            mark = QTextLayout.FormatRange()
            mark.start, mark.length = start, end - start
            char = QTextCharFormat()
            char.setBackground(QBrush(Palette.MENTION_BACKGROUND))
            char.setForeground(QBrush(Palette.MENTION_TEXT))
            mark.format = char
            ranges.append(mark)
        return ranges

    def quote_excerpt(self, item: MessageItem) -> str:
        assert item.quote is not None
        excerpt = item.quote.excerpt
        return self.tr("Message deleted") if excerpt is None else excerpt.replace("\n", " ")

    def _italic(self) -> QFont:
        font = QFont(self._fonts()[0])
        font.setItalic(True)
        return font

    def _paint_quote(self, painter: QPainter, item: MessageItem, rect: QRectF) -> None:
        """The original's sender (bold) over its first line, behind a bar, as the page shows it."""
        _, meta_font, _, metrics, _, _ = self._fonts()
        assert item.quote is not None
        path = QPainterPath()
        path.addRoundedRect(rect, 4, 4)
        painter.fillPath(path, Palette.QUOTE_FILL)
        painter.fillRect(QRectF(rect.left(), rect.top(), 3, rect.height()), Palette.QUOTE_BAR)
        text_rect = QRectF(rect.left() + 3 + QUOTE_PAD, rect.top() + 3, rect.width() - 3 - 2 * QUOTE_PAD,
                           metrics.height())
        bold = QFont(meta_font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(Palette.BUBBLE_TEXT)
        align = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        painter.drawText(text_rect, align, QFontMetricsF(bold).elidedText(
            item.quote.sender, Qt.TextElideMode.ElideRight, text_rect.width()))
        excerpt_font = QFont(meta_font)
        excerpt_font.setItalic(item.quote.excerpt is None)
        painter.setFont(excerpt_font)
        text_rect.translate(0, metrics.height())
        painter.drawText(text_rect, align, QFontMetricsF(excerpt_font).elidedText(
            self.quote_excerpt(item), Qt.TextElideMode.ElideRight, text_rect.width()))

    def _paint_meta(self, painter: QPainter, item: MessageItem, geometry: BubbleGeometry) -> None:
        _, meta_font, _, metrics, _, _ = self._fonts()
        painter.setFont(meta_font)
        rect = QRectF(geometry.meta_rect)
        size = rect.height()
        icon_rect = QRectF(rect.left(), rect.top() + size * 0.15, size * 0.7, size * 0.7)
        if item.state is DeliveryState.PENDING:
            self._draw_clock(painter, icon_rect)
            rect.setLeft(rect.left() + size + 4)
        elif item.state is DeliveryState.FAILED:
            self._draw_failed(painter, icon_rect)
            rect.setLeft(rect.left() + size + 4)
        elif item.to is not None:
            self._draw_lock(painter, icon_rect)
            rect.setLeft(rect.left() + size + 4)
        colour = QColor(Palette.BUBBLE_TEXT)
        colour.setAlphaF(0.75)
        painter.setPen(colour)
        text = metrics.elidedText(geometry.meta, Qt.TextElideMode.ElideMiddle, rect.width() + 1)
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)

    @staticmethod
    def _draw_clock(painter: QPainter, rect: QRectF) -> None:
        painter.setPen(QPen(Palette.BUBBLE_TEXT, 1.2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(rect)
        centre = rect.center()
        painter.drawLine(centre, QPointF(centre.x(), rect.top() + rect.height() * 0.22))
        painter.drawLine(centre, QPointF(rect.right() - rect.width() * 0.25, centre.y()))

    @staticmethod
    def _draw_failed(painter: QPainter, rect: QRectF) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(Palette.FAILED)
        painter.drawEllipse(rect)
        painter.setPen(QPen(Palette.BUBBLE_TEXT, 1.4))
        x = rect.center().x()
        painter.drawLine(QPointF(x, rect.top() + rect.height() * 0.2), QPointF(x, rect.top() + rect.height() * 0.6))
        painter.drawPoint(QPointF(x, rect.top() + rect.height() * 0.8))

    @staticmethod
    def _draw_lock(painter: QPainter, rect: QRectF) -> None:
        painter.setPen(QPen(Palette.PRIVATE_OUTLINE, 1.2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        shackle = QRectF(rect.left() + rect.width() * 0.22, rect.top(), rect.width() * 0.56, rect.height() * 0.7)
        painter.drawArc(shackle, 0, 180 * 16)
        painter.setBrush(Palette.PRIVATE_OUTLINE)
        painter.drawRoundedRect(QRectF(rect.left(), rect.top() + rect.height() * 0.4,
                                       rect.width(), rect.height() * 0.6), 1.5, 1.5)

    # Clicks ---------------------------------------------------------------

    def link_at(self, item: MessageItem, row_rect, pos) -> str | None:
        """The URL under ``pos`` (view coordinates) in the row at ``row_rect``, if any."""
        local = QPointF(pos) - QPointF(row_rect.topLeft())
        for rects, url in self.geometry(item, row_rect.width()).links:
            if any(rect.contains(local) for rect in rects):
                return url
        return None

    def editorEvent(self, event, model, option, index) -> bool:
        if event.type() != QEvent.Type.MouseButtonRelease or event.button() != Qt.MouseButton.LeftButton:
            return False
        item = index.data(Role.ITEM)
        if item is None:
            return False
        if item.file is not None and not item.deleted:
            inside = self.geometry(item, option.rect.width()).file
            action = inside.action_at(event.position() - QPointF(option.rect.topLeft())) if inside else None
            if action is not None:
                self.fileAction.emit(action, item)
                return True
        url = self.link_at(item, option.rect, event.position())
        if url is not None:
            self.linkClicked.emit(url)  # the view asks first (desktop.widgets.link_prompt)
            return True
        if item.quote is not None:
            quote = self.geometry(item, option.rect.width()).quote_rect
            if quote is not None and quote.contains(event.position() - QPointF(option.rect.topLeft())):
                self.quoteClicked.emit(item.quote.id)
                return True
        if can_retry(item):
            local = event.position() - QPointF(option.rect.topLeft())
            if self.geometry(item, option.rect.width()).bubble.contains(local):
                self.retryRequested.emit(item.nonce)
                return True
        return False
