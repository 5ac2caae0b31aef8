"""``roomchat``: start the desktop app (or its self-test).

roomchat [--server URL] [--name NAME] [--room ROOM] [--host-room [--port P]] [--mdns-interface ADDR]
         [--self-test]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

__all__ = ["main", "parse_args"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="roomchat", description="RoomChat: chat rooms on your LAN")
    parser.add_argument("--server", metavar="URL", help="server address, e.g. ws://192.168.1.5:8080")
    parser.add_argument("--name", help="your name in the room (joins at once with --room)")
    parser.add_argument("--room", help="the room to join")
    parser.add_argument("--host-room", action="store_true", help="host a room on this computer now")
    parser.add_argument("--port", type=int, default=8080, help="port to host on (default 8080)")
    parser.add_argument("--mdns-interface", action="append", default=[], metavar="ADDR",
                        help="look for rooms and announce hosted ones only on the interface with this "
                             "IPv4 address (repeatable; default: every LAN interface)")
    parser.add_argument("--self-test", action="store_true", help="check the installation and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.self_test:
        from desktop.selftest import run_self_test

        return run_self_test()

    from desktop.platform_check import problem

    message = problem()
    if message:
        print(message, file=sys.stderr)
        return 1

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("RoomChat")
    app.setOrganizationName("RoomChat")
    app.setQuitOnLastWindowClosed(False)  # quitting waits for the clean shutdown below

    import qasync

    from desktop.i18n import Translations, system_language
    from desktop.settings import Settings
    from desktop.window import MainWindow

    settings = Settings()
    translations = Translations(app)
    translations.apply(settings.language or system_language())
    window = MainWindow(settings, translations, host_options={"mdns_interfaces": tuple(args.mdns_interface)})
    app.setWindowIcon(window.windowIcon())

    async def run() -> None:
        window.show()
        signal.signal(signal.SIGTERM, lambda *_: window.hosting.quit_without_asking())
        wake = QTimer(window)  # Python runs signal handlers only between bytecodes: tick now and then
        wake.timeout.connect(lambda: None)
        wake.start(250)
        window.lan_rooms.start(args.mdns_interface)
        window.apply_arguments(args)
        closed = asyncio.get_running_loop().create_future()
        window.closed.connect(lambda: closed.done() or closed.set_result(None))
        await closed
        await window.closing

    qasync.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
