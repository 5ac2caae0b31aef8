"""Chinese text is drawn at the weight of the Latin beside it, on light and dark backgrounds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ARTIFACTS

ROOT = Path(__file__).resolve().parents[1]

INK_SCRIPT = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
if sys.argv[1] == "fixed":
    from desktop.fonts import even_cjk_weight
    assert even_cjk_weight()
def ink(text, fg, bg, save=None):
    label = QLabel(text)
    label.setStyleSheet(f"color: {fg}; background: {bg}; padding: 4px")
    label.adjustSize()
    if save:
        label.grab().scaled(label.width() * 2, label.height() * 2).save(save)
    image = label.grab().toImage()
    total = 0
    for y in range(image.height()):
        for x in range(image.width()):
            red = QColor(image.pixel(x, y)).red()
            total += red if fg == "white" else 255 - red
    return total
mixed = "alice 你好，房间里见 regular text 成员"
ink(mixed, "white", "#1a1a2e", sys.argv[2])
for text in ("你好成员房间里见", "hello regular text"):
    print(ink(text, "white", "#000000") / ink(text, "black", "#ffffff"))
"""


def ink_ratios(mode: str, picture: Path) -> tuple[float, float]:
    """Light-on-dark ink divided by dark-on-light ink, for Chinese and for Latin text."""
    result = subprocess.run([sys.executable, "-c", INK_SCRIPT, mode, str(picture)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    chinese, latin = (float(line) for line in result.stdout.split())
    return chinese, latin


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FreeType rendering (Linux)")
def test_chinese_is_not_bolder_than_latin_on_a_dark_background():
    ARTIFACTS.mkdir(exist_ok=True)
    chinese_before, latin_before = ink_ratios("qt-default", ARTIFACTS / "desktop-cjk-weight-before.png")
    chinese, latin = ink_ratios("fixed", ARTIFACTS / "desktop-cjk-weight-after.png")
    # Qt's default darkens and gamma-blends the CFF CJK font only: the measurement sees it.
    assert chinese_before > 1.25 and latin_before == pytest.approx(1.0, abs=0.05)
    assert chinese == pytest.approx(1.0, abs=0.05), "Chinese as heavy on dark as on light"
    assert latin == pytest.approx(1.0, abs=0.05)
