"""Emoji: the set the picker offers, and whether this system draws them in colour.

Qt draws an emoji with whatever font has the glyph; without a colour emoji font (Debian:
``fonts-noto-color-emoji``; Windows and macOS ship one) it is an empty box or a black
outline. :func:`draws_colour_emoji` renders one and looks for colour, so the self-test of a
build (and the tests) can tell.
"""

from __future__ import annotations

__all__ = ["PICKER_EMOJI", "draws_colour_emoji"]

PICKER_EMOJI: tuple[str, ...] = (
    "😀", "😂", "🙂", "😉", "😊", "😍", "😘", "😎",
    "🤔", "😅", "😢", "😭", "😮", "😡", "😴", "🙄",
    "👍", "👎", "👏", "🙏", "👋", "💪", "🤝", "✌️",
    "❤️", "💔", "🔥", "✨", "🎉", "🎂", "☕", "🍕",
    "✅", "❌", "⚠️", "❓", "💡", "📎", "📅", "🚀",
)
"""What the emoji button offers (one line of eight per kind: faces, hands, things, marks)."""


def draws_colour_emoji(emoji: str = "😀", pixels: int = 48) -> bool:
    """Render ``emoji`` with the application font; True if coloured pixels came out.

    Needs a QGuiApplication. A monochrome fallback (an outline, a box) gives only greys.
    """
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter

    image = QImage(pixels * 2, pixels * 2, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.white)
    font = QFont(QGuiApplication.font())
    font.setPixelSize(pixels)
    painter = QPainter(image)
    painter.setFont(font)
    painter.setPen(Qt.GlobalColor.black)
    painter.drawText(QPointF(pixels // 4, pixels * 1.4), emoji)
    painter.end()
    coloured = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            colour = QColor(image.pixel(x, y))
            coloured += colour.hsvSaturation() > 100 and colour.value() > 80
    return coloured >= 20
