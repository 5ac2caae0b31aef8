"""The inside of a file bubble, laid out and painted for BubbleDelegate (never a widget):
a picture for the four image types (from desktop.thumbnails), else a file icon; the name and
size; a progress bar while our upload or a Save runs; the server's reason when it refused the
file; and painted buttons (Cancel, Dismiss, Save, Open) that the delegate's clicks hit-test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QTextLayout, QTextOption

from desktop.models import DeliveryState, Kind, MessageItem
from server.file_format import format_size

__all__ = ["FileGeometry", "file_geometry", "paint_file", "FILE_WIDTH", "ACTIONS"]

FILE_WIDTH = 260       # the widest a file bubble's inside gets
PLACEHOLDER_HEIGHT = 120  # a picture's stand-in while it is fetched
ICON = 28
GAP = 6
BAR_HEIGHT = 6
BUTTON_HEIGHT = 24
BUTTON_PAD = 10

ACTIONS = ("cancel", "dismiss", "save", "open", "view")
"""What a click on a file bubble can ask for (BubbleDelegate.fileAction)."""



def button_label(action: str) -> str:
    if action == "cancel":
        return QCoreApplication.translate("FileBubble", "Cancel")
    if action == "dismiss":
        return QCoreApplication.translate("FileBubble", "Dismiss")
    if action == "save":
        return QCoreApplication.translate("FileBubble", "Save…")
    return QCoreApplication.translate("FileBubble", "Open")


@dataclass
class FileGeometry:
    """Where the parts of a file bubble go (row coordinates, like BubbleGeometry)."""

    width: float
    height: float
    picture: QRectF | None = None
    icon: QRectF | None = None
    name: QRectF = field(default_factory=QRectF)
    detail: QRectF = field(default_factory=QRectF)
    bar: QRectF | None = None
    error: QTextLayout | None = None
    error_origin: QPointF = field(default_factory=QPointF)
    buttons: list[tuple[QRectF, str]] = field(default_factory=list)

    def action_at(self, point: QPointF) -> str | None:
        for rect, action in self.buttons:
            if rect.contains(point):
                return action
        if self.picture is not None and self.picture.contains(point):
            return "view"
        return None


def _buttons(item: MessageItem) -> list[str]:
    if item.kind is Kind.OWN and item.state is DeliveryState.PENDING:
        return ["cancel"]
    if item.state is DeliveryState.FAILED:
        return ["dismiss"] if item.nonce else []
    if item.file is None or not item.file.id:
        return []
    if item.transfer >= 0:
        return []  # a Save is running
    return ["save", "open"] if item.saved else ["save"]


def detail_text(item: MessageItem) -> str:
    """"12.0 MiB", "3.1 MiB of 12.0 MiB", "Saved": the line under the name."""
    assert item.file is not None
    size = format_size(item.file.size)
    if item.transfer >= 0 and item.state is DeliveryState.PENDING and item.transfer >= item.file.size:
        return QCoreApplication.translate("FileBubble", "%1 · storing…").replace("%1", size)
    if item.transfer >= 0:
        done = format_size(item.transfer)
        return QCoreApplication.translate("FileBubble", "%1 of %2").replace("%1", done).replace("%2", size)
    if item.state is DeliveryState.PENDING:
        return QCoreApplication.translate("FileBubble", "%1 · waiting…").replace("%1", size)
    if item.saved:
        return QCoreApplication.translate("FileBubble", "%1 · saved").replace("%1", size)
    return size


def file_geometry(item: MessageItem, picture_size, origin: QPointF, max_width: float,
                  font: QFont, small: QFont) -> FileGeometry:
    """Lay out a file bubble's inside from ``origin``; ``picture_size`` is the thumbnail's
    QSize, an empty QSize while it loads, or None when there is no picture to show."""
    assert item.file is not None
    width = min(FILE_WIDTH, max_width)
    metrics, small_metrics = QFontMetricsF(font), QFontMetricsF(small)
    geometry = FileGeometry(width, 0)
    x, y = origin.x(), origin.y()
    if picture_size is not None:
        if picture_size.isEmpty():
            picture = QRectF(x, y, width, PLACEHOLDER_HEIGHT)
        else:
            scale = min(1.0, width / picture_size.width())
            picture = QRectF(x, y, picture_size.width() * scale, picture_size.height() * scale)
        geometry.picture = picture
        y += picture.height() + GAP
        text_x = x
    else:
        geometry.icon = QRectF(x, y + 2, ICON * 0.8, ICON)
        text_x = x + ICON + GAP
    geometry.name = QRectF(text_x, y, x + width - text_x, metrics.height())
    geometry.detail = QRectF(text_x, y + metrics.height(), x + width - text_x, small_metrics.height())
    y += max(metrics.height() + small_metrics.height(), 0 if picture_size is not None else ICON + 4)
    if item.transfer >= 0 and item.state is not DeliveryState.FAILED:
        y += GAP
        geometry.bar = QRectF(x, y, width, BAR_HEIGHT)
        y += BAR_HEIGHT
    if item.error:
        layout = QTextLayout(item.error, small)
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(option)
        height = 0.0
        layout.beginLayout()
        while (line := layout.createLine()).isValid() and layout.lineCount() <= 4:
            line.setLineWidth(width)
            line.setPosition(QPointF(0, height))
            height += line.height()
        layout.endLayout()
        y += GAP
        geometry.error, geometry.error_origin = layout, QPointF(x, y)
        y += height
    actions = _buttons(item)
    if actions:
        y += GAP
        bx = x
        for action in actions:
            label_width = small_metrics.horizontalAdvance(button_label(action)) + 2 * BUTTON_PAD
            geometry.buttons.append((QRectF(bx, y, label_width, BUTTON_HEIGHT), action))
            bx += label_width + GAP
        y += BUTTON_HEIGHT
    geometry.height = y - origin.y()
    return geometry


def paint_file(painter: QPainter, item: MessageItem, geometry: FileGeometry, image, font: QFont,
               small: QFont, text: QColor) -> None:
    """Paint what file_geometry laid out; ``image`` is the thumbnail QImage or None."""
    assert item.file is not None
    if geometry.picture is not None:
        if image is not None:
            painter.drawImage(geometry.picture, image)
        else:
            painter.fillRect(geometry.picture, QColor(0, 0, 0, 40))
            painter.setFont(small)
            painter.setPen(text)
            painter.drawText(geometry.picture, int(Qt.AlignmentFlag.AlignCenter),
                             QCoreApplication.translate("FileBubble", "Loading picture…"))
    if geometry.icon is not None:
        _draw_document(painter, geometry.icon, text)
    painter.setFont(font)
    painter.setPen(text)
    align = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    name = QFontMetricsF(font).elidedText(item.file.name, Qt.TextElideMode.ElideMiddle, geometry.name.width())
    painter.drawText(geometry.name, align, name)
    faded = QColor(text)
    faded.setAlphaF(0.8)
    painter.setFont(small)
    painter.setPen(faded)
    painter.drawText(geometry.detail, align, QFontMetricsF(small).elidedText(
        detail_text(item), Qt.TextElideMode.ElideRight, geometry.detail.width()))
    if geometry.bar is not None:
        track = QPainterPath()
        track.addRoundedRect(geometry.bar, 3, 3)
        painter.fillPath(track, QColor(255, 255, 255, 70))
        share = min(1.0, item.transfer / item.file.size) if item.file.size else 1.0
        done = QRectF(geometry.bar)
        done.setWidth(max(geometry.bar.height(), geometry.bar.width() * share))
        filled = QPainterPath()
        filled.addRoundedRect(done, 3, 3)
        painter.fillPath(filled, QColor("#4ade80"))
    if geometry.error is not None:
        painter.setPen(QColor("#fecdd3") if item.kind is Kind.OWN else QColor("#fda4af"))
        geometry.error.draw(painter, geometry.error_origin)
    for rect, action in geometry.buttons:
        path = QPainterPath()
        path.addRoundedRect(rect, 6, 6)
        painter.fillPath(path, QColor(255, 255, 255, 235))
        painter.setPen(QColor("#2d2d44"))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), button_label(action))


def _draw_document(painter: QPainter, rect: QRectF, colour: QColor) -> None:
    """A sheet with a folded corner."""
    fold = rect.width() * 0.35
    path = QPainterPath(QPointF(rect.left(), rect.top()))
    path.lineTo(rect.right() - fold, rect.top())
    path.lineTo(rect.right(), rect.top() + fold)
    path.lineTo(rect.right(), rect.bottom())
    path.lineTo(rect.left(), rect.bottom())
    path.closeSubpath()
    painter.setPen(QPen(colour, 1.4))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(path)
    painter.drawLine(QPointF(rect.right() - fold, rect.top()), QPointF(rect.right() - fold, rect.top() + fold))
    painter.drawLine(QPointF(rect.right() - fold, rect.top() + fold), QPointF(rect.right(), rect.top() + fold))
    for share in (0.5, 0.65, 0.8):
        y = rect.top() + rect.height() * share
        painter.drawLine(QPointF(rect.left() + 4, y), QPointF(rect.right() - 4, y))
