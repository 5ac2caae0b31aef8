"""``roomchat --self-test``: prove an installation (above all a frozen build) works, headless.

It runs the app's own parts, not stand-ins: the main window is built and shown, the embedded
server (:class:`desktop.host.RoomHost`) listens on a free loopback port with a temporary data
folder, a :class:`desktop.client.ChatConnection` on the qasync loop joins and gets a message
acknowledged, the history database holds it afterwards, the browser page is served from the
bundled ``resources/web``, an encrypted host makes its certificate (the bundled ``cryptography``)
and a client joins it over wss:// pinned by the link's fingerprint, the Chinese translations (ours and Qt's) load and an emoji is
drawn in colour. Nothing is written
outside a temporary folder; the user's settings are not touched. Works with
``QT_QPA_PLATFORM=offscreen`` (no display needed).

Prints one line and returns 0, or prints the reason and returns 1.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable
from contextlib import closing
from pathlib import Path

__all__ = ["SelfTestFailure", "run_self_test"]

STEP_TIMEOUT = 15.0
"""Seconds any one step may take before the self-test gives up on it."""

MESSAGE = "self-test 你好"


class SelfTestFailure(Exception):
    """One check failed; the message says which and why."""


def _check(condition: bool, reason: str) -> None:
    if not condition:
        raise SelfTestFailure(reason)


async def _within(awaitable: Awaitable, what: str):
    try:
        return await asyncio.wait_for(awaitable, STEP_TIMEOUT)
    except TimeoutError:
        raise SelfTestFailure(f"{what}: no answer within {STEP_TIMEOUT:.0f} s") from None


def _signal_future(signal, accept=lambda *args: True) -> asyncio.Future:
    """A future resolved with the arguments of the first emission ``accept`` approves."""
    future = asyncio.get_running_loop().create_future()

    def slot(*args) -> None:
        if not future.done() and accept(*args):
            future.set_result(args)

    signal.connect(slot)
    future.add_done_callback(lambda _: signal.disconnect(slot))
    return future


def _stored_contents(data_dir: Path) -> list[str]:
    """Every message text in the history database the server wrote under ``data_dir``."""
    path = data_dir / "history.sqlite3"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return [row[0] for row in db.execute("SELECT content FROM messages")]


def _fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=STEP_TIMEOUT) as response:
        return response.status, response.read()


def _check_translations(app) -> None:
    """Our Chinese .qm and Qt's qtbase_zh_CN both load and translate (then back to English)."""
    from PySide6.QtCore import QCoreApplication

    from desktop.i18n import Translations
    from resources import resource

    _check(
        resource("i18n", "roomchat_zh_CN.qm").is_file(),
        "translation file roomchat_zh_CN.qm is missing",
    )
    translations = Translations(app)
    _check(translations.apply("zh_CN"), "roomchat_zh_CN.qm did not load")
    ours = QCoreApplication.translate("MainWindow", "Join room")
    qt_base = QCoreApplication.translate("QPlatformTheme", "Cancel")
    translations.apply("en")
    _check(ours == "加入房间", f"our Chinese translation is not applied ({ours!r})")
    _check(qt_base == "取消", f"Qt's qtbase_zh_CN translation is missing ({qt_base!r})")


async def _join(connection, url: str) -> None:
    joined = _signal_future(connection.joined)
    refused = _signal_future(connection.errorReceived)
    connection.join(url, "selftest", "selftest")
    done, _ = await _within(asyncio.wait({joined, refused}, return_when=asyncio.FIRST_COMPLETED), "joining the room")
    _check(joined in done, f"join refused: {refused.result() if refused.done() else ''}")


async def _check_tls(folder: Path) -> None:
    """Host with TLS (a certificate made now) and join by the fingerprinted link, unasked."""
    from desktop.client import ChatConnection
    from desktop.host import RoomHost
    from desktop.trust import CertificateTrust

    host = RoomHost(host="127.0.0.1")
    failures = []
    host.failed.connect(lambda reason, _port: failures.append(reason))
    _check(host.start(port=0, data_dir=folder / "tls-data", tls=True),
           f"encrypted server: {failures[-1] if failures else '?'}")
    connection = ChatConnection(trust=CertificateTrust(folder / "trusted-certificates.json"))
    try:
        await _join(connection, host.addresses()[0][0])
    finally:
        await connection.close()
        await asyncio.get_running_loop().run_in_executor(None, host.stop)


async def _scenario(app, folder: Path) -> list[str]:
    """Run every check; return the names of the passed ones in order."""
    from PySide6.QtCore import QSettings

    from desktop.client import ChatConnection
    from desktop.host import RoomHost
    from desktop.settings import Settings
    from desktop.window import MainWindow
    from resources import resource

    passed = []
    store = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Settings(store), host_data_dir=folder / "window-host")
    window.show()
    await asyncio.sleep(0)  # let Qt show it (never processEvents() inside a coroutine)
    _check(window.isVisible() and not window.windowIcon().isNull(), "the main window did not open")
    passed.append("window")

    data_dir = folder / "data"
    host = RoomHost(host="127.0.0.1")
    failures = []
    host.failed.connect(lambda reason, _port: failures.append(reason))
    _check(
        host.start(port=0, data_dir=data_dir),
        f"embedded server: {failures[-1] if failures else '?'}",
    )
    connection = ChatConnection()
    try:
        passed.append("server")
        await _join(connection, f"ws://127.0.0.1:{host.port}")
        delivered = _signal_future(
            connection.messageDelivered, lambda _nonce, record: record.content == MESSAGE
        )
        connection.send(MESSAGE)
        _nonce, record = await _within(delivered, "message acknowledgement")
        _check(record.id > 0, "the server did not store the message")
        passed.append("client")

        status, body = await _within(
            asyncio.to_thread(_fetch, f"http://127.0.0.1:{host.port}/"), "fetching the page"
        )
        _check(
            status == 200 and body == resource("web", "index.html").read_bytes(),
            f"the browser page is not served (HTTP {status})",
        )
        passed.append("page")
    finally:
        await connection.close()
        await asyncio.get_running_loop().run_in_executor(None, host.stop)
    _check(MESSAGE in _stored_contents(data_dir), "the message is not in the history database")
    passed.append("history")

    await _check_tls(folder)
    passed.append("tls")

    _check_translations(app)
    passed.append("translations")

    from desktop.emoji import draws_colour_emoji

    _check(draws_colour_emoji(), "emoji are not drawn in colour: install a colour emoji font "
                                 "(Debian/Ubuntu: fonts-noto-color-emoji)")
    passed.append("emoji")

    window.close()
    await _within(window.closing, "closing the window")
    return passed


def run_self_test() -> int:
    """Run the checks; print one line; 0 if all passed, 1 otherwise."""
    started = time.perf_counter()
    try:
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication(sys.argv[:1])
        app.setQuitOnLastWindowClosed(False)
        import qasync  # after PySide6, so that qasync picks this binding

        with tempfile.TemporaryDirectory(prefix="roomchat-selftest-") as folder:
            passed = qasync.run(_scenario(app, Path(folder)))
    except SelfTestFailure as exc:
        print(f"RoomChat self-test FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - any other error fails the self-test, in one line
        print(
            f"RoomChat self-test FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True
        )
        return 1
    elapsed = time.perf_counter() - started
    print(f"RoomChat self-test OK: {', '.join(passed)} ({elapsed:.2f} s)", flush=True)
    return 0
