"""The app icon: two chat bubbles in the seed's colours, drawn with QPainter.

``python -m desktop.widgets.icon`` regenerates ``resources/icons/roomchat.png``
(256x256, used by the window and the packaging helper); the running app loads
that PNG through importlib.resources.
"""

from __future__ import annotations

import importlib.resources
import sys

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPainterPath

__all__ = ["app_icon", "draw_icon", "ICON_SIZE"]

ICON_SIZE = 256


def _bubble(rect: QRectF, tail_left: bool) -> QPainterPath:
    path = QPainterPath()
    radius = rect.height() * 0.32
    path.addRoundedRect(rect, radius, radius)
    tail = QPainterPath()
    base_y = rect.bottom() - radius * 0.4
    if tail_left:
        x = rect.left() + rect.width() * 0.18
        tail.moveTo(x, base_y)
        tail.lineTo(x - rect.width() * 0.12, rect.bottom() + rect.height() * 0.28)
        tail.lineTo(x + rect.width() * 0.16, base_y)
    else:
        x = rect.right() - rect.width() * 0.18
        tail.moveTo(x, base_y)
        tail.lineTo(x + rect.width() * 0.12, rect.bottom() + rect.height() * 0.28)
        tail.lineTo(x - rect.width() * 0.16, base_y)
    tail.closeSubpath()
    return path.united(tail)


def draw_icon(size: int = ICON_SIZE) -> QImage:
    """A dark rounded square with an indigo (own) and a grey-blue (other) bubble."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    s = size / 256
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    background = QPainterPath()
    background.addRoundedRect(QRectF(8 * s, 8 * s, 240 * s, 240 * s), 52 * s, 52 * s)
    painter.fillPath(background, QColor("#1a1a2e"))
    painter.fillPath(_bubble(QRectF(34 * s, 52 * s, 138 * s, 84 * s), True), QColor("#3a3a5c"))
    painter.fillPath(_bubble(QRectF(84 * s, 122 * s, 138 * s, 84 * s), False), QColor("#646cff"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#ffffff"))
    for i in range(3):
        painter.drawEllipse(QPointF((124 + i * 29) * s, 164 * s), 10 * s, 10 * s)
    painter.setBrush(QColor("#a5b4fc"))
    painter.drawRoundedRect(QRectF(60 * s, 84 * s, 86 * s, 12 * s), 6 * s, 6 * s)
    painter.drawRoundedRect(QRectF(60 * s, 104 * s, 56 * s, 12 * s), 6 * s, 6 * s)
    painter.end()
    return image


def app_icon() -> QIcon:
    path = importlib.resources.files("resources") / "icons" / "roomchat.png"
    return QIcon(str(path)) if path.is_file() else QIcon()


if __name__ == "__main__":
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication(sys.argv[:1])
    target = importlib.resources.files("resources") / "icons" / "roomchat.png"
    sys.exit(0 if draw_icon().save(str(target)) else 1)
