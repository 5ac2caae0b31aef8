"""UI language: Chinese or English, following the system locale unless the user chose one.

English is the source language; Chinese comes from ``resources/i18n/roomchat_zh_CN.qm``
(compiled from the .ts next to it with pyside6-lrelease), found through
importlib.resources so it works from a checkout and from a frozen build alike.
"""

from __future__ import annotations

import importlib.resources

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

__all__ = ["LANGUAGES", "system_language", "Translations"]

LANGUAGES: dict[str, str] = {"zh_CN": "中文", "en": "English"}
"""Language code -> its name in itself (menu entries are never translated)."""


def system_language() -> str:
    return "zh_CN" if QLocale.system().name().lower().startswith("zh") else "en"


def _qm_path(code: str) -> str:
    return str(importlib.resources.files("resources") / "i18n" / f"roomchat_{code}.qm")


class Translations:
    """Installs the translators for one language; switching sends LanguageChange to every widget."""

    def __init__(self, app: QCoreApplication) -> None:
        self._app = app
        self._installed: list[QTranslator] = []
        self.language = "en"

    def apply(self, code: str) -> bool:
        """Switch to ``code`` ("zh_CN" or "en"); False if its translation file is missing."""
        if code not in LANGUAGES:
            code = "en"
        for translator in self._installed:
            self._app.removeTranslator(translator)
        self._installed.clear()
        ok = True
        if code != "en":
            ours = QTranslator(self._app)
            ok = ours.load(_qm_path(code))
            if ok:
                self._installed.append(ours)
            qt_base = QTranslator(self._app)
            if qt_base.load(f"qtbase_{code}", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
                self._installed.append(qt_base)
        for translator in self._installed:
            self._app.installTranslator(translator)
        self.language = code if ok else "en"
        QLocale.setDefault(QLocale(self.language))
        return ok
