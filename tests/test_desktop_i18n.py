"""UI language files, runtime switching, and the pre-Qt platform check / command line."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess  # noqa: E402
import sys  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication  # noqa: E402

from desktop import platform_check  # noqa: E402
from desktop.i18n import LANGUAGES, Translations  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TS = ROOT / "resources" / "i18n" / "roomchat_zh_CN.ts"
QM = ROOT / "resources" / "i18n" / "roomchat_zh_CN.qm"
SOURCES = [ROOT / "desktop" / name for name in ("window.py", "models.py", "failures.py", "hosting.py", "reachability.py", "discovery.py",
                                                   "transfers.py", "file_actions.py",
                                                   "message_actions.py")] + [
           *sorted((ROOT / "desktop" / "widgets").glob("*.py"))]
TOOLS = Path(sys.executable).parent


def messages(ts: Path) -> dict[tuple[str, str], ET.Element]:
    tree = ET.parse(ts)
    return {(context.findtext("name"), message.findtext("source")): message.find("translation")
            for context in tree.iter("context") for message in context.iter("message")}


def test_every_string_in_the_code_has_a_finished_chinese_translation(tmp_path):
    fresh = tmp_path / "fresh.ts"
    subprocess.run([TOOLS / "pyside6-lupdate", *SOURCES, "-no-obsolete", "-ts", fresh],
                   check=True, capture_output=True, cwd=ROOT)
    in_code, committed = set(messages(fresh)), messages(TS)
    assert in_code, "lupdate found the tr() strings"
    assert in_code == set(committed), "resources/i18n/roomchat_zh_CN.ts is out of date: run lupdate"
    for key, translation in committed.items():
        assert translation.get("type") is None and translation.text, f"untranslated: {key}"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in translation.text), f"not Chinese: {key}"
        for marker in ("%1", "%2"):
            assert (marker in key[1]) == (marker in translation.text), f"placeholder lost: {key}"


def test_compiled_qm_matches_the_ts(tmp_path):
    fresh = tmp_path / "fresh.qm"
    subprocess.run([TOOLS / "pyside6-lrelease", TS, "-qm", fresh], check=True, capture_output=True)
    assert fresh.read_bytes() == QM.read_bytes(), "run pyside6-lrelease and commit the .qm"


def test_switching_translators_at_runtime(qapp):
    translations = Translations(qapp)
    try:
        assert translations.apply("zh_CN")
        assert translations.language == "zh_CN"
        assert QCoreApplication.translate("Sidebar", "Name") == "用户名"
        assert QCoreApplication.translate("MessageModel", "%1 joined the room") == "用户「%1」加入了房间"
        assert translations.apply("en")
        assert QCoreApplication.translate("Sidebar", "Name") == "Name"
        translations.apply("klingon")
        assert translations.language == "en"
    finally:
        translations.apply("en")
    assert set(LANGUAGES) == {"zh_CN", "en"} and LANGUAGES["zh_CN"] == "中文"


# Platform check and command line ---------------------------------------------------


def test_no_display_is_reported_before_qt_starts():
    message = platform_check.problem({}, "linux")
    assert message is not None and "no display" in message
    assert platform_check.problem({}, "win32") is None
    assert platform_check.problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert platform_check.problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None


def test_missing_xcb_libraries_name_the_debian_packages(monkeypatch):
    assert platform_check.missing_libraries({"libc.so.6": "libc6"}) == []
    assert platform_check.missing_libraries(
        {"libroomchat-surely-absent.so.7": "pkg-a", "libc.so.6": "libc6"}) == ["pkg-a"]
    monkeypatch.setattr(platform_check, "XCB_LIBRARIES",
                        {"libroomchat-surely-absent.so.7": "libxcb-cursor0", "libc.so.6": "libc6"})
    message = platform_check.problem({"DISPLAY": ":0"}, "linux")
    assert message is not None and "sudo apt-get install libxcb-cursor0" in message


def test_command_line_without_display_exits_1_with_advice():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "desktop", "--name", "x"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    if sys.platform.startswith("linux"):
        assert result.returncode == 1 and "no display" in result.stderr
    help_text = subprocess.run([sys.executable, "-m", "desktop", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60).stdout
    for option in ("--server", "--name", "--room", "--host-room", "--port", "--self-test"):
        assert option in help_text


def test_xcb_package_list_is_the_stack_notes_list():
    """README copies XCB_PACKAGES; it must cover what STACK-NOTES says a real X window needs."""
    needed = {"libxkbcommon-x11-0", "libxcb-cursor0", "libxcb-icccm4", "libxcb-image0",
              "libxcb-keysyms1", "libxcb-randr0", "libxcb-render-util0", "libxcb-shape0",
              "libxcb-xfixes0", "libx11-xcb1"}
    assert needed <= set(platform_check.XCB_PACKAGES)
