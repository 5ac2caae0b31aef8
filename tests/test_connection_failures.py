"""Every way a join can fail names its cause at once, against real sockets on loopback.

Each scenario points a real ChatConnection (and then a real window, in English and Chinese)
at something real: a port nobody listens on, an HTTP server that never upgrades, a server
that picks another subprotocol, one that never answers, a full server, TLS on one side only,
a server with a key. The cause must be shown within 2 s of the first try, and the backoff
must stay under its cap while "Retry now" is offered. DNS and "no route" need a network of
their own: see test_discovery.py (they run inside a network namespace).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from conftest import ChatPeer, TcpServer, free_port, make_config  # noqa: E402
from PySide6.QtCore import QCoreApplication  # noqa: E402
from test_desktop_client import Member  # noqa: E402
from test_desktop_window import fill_and_join, until, windows  # noqa: E402, F401 - the fixture
from test_security import make_certificate  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

from desktop.client import ChatConnection, ConnectionState  # noqa: E402
from desktop.failures import Failure  # noqa: E402
from desktop.i18n import Translations  # noqa: E402
from server.protocol import SUBPROTOCOL  # noqa: E402
from server.thread import ServerThread  # noqa: E402

SHOWN_WITHIN = 2.0
"""Seconds from the first try until the cause is on screen (the issue's bound)."""


@asynccontextmanager
async def tcp_server(handler) -> AsyncIterator[int]:
    """A plain TCP server on a free loopback port; ``handler(reader, writer)`` plays its part."""
    server = TcpServer(handler)
    try:
        yield await server.start()
    finally:
        await server.close()


async def http_page(reader, writer) -> None:
    """An ordinary web server: answers every request with a page, never upgrades."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello")
    await writer.drain()
    writer.close()


async def ssh_banner(reader, writer) -> None:
    """Something that is not HTTP at all."""
    writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
    await writer.drain()
    await asyncio.sleep(0.5)
    writer.close()


async def silent(reader, writer) -> None:
    """Accepts and never says a word."""
    await asyncio.sleep(30)


@asynccontextmanager
async def other_subprotocol() -> AsyncIterator[int]:
    """A websocket server that insists on a subprotocol RoomChat did not offer."""

    def choose(connection, offered):
        return "chat.other"

    async def handler(connection):
        await connection.wait_closed()

    async with serve(handler, "127.0.0.1", 0, select_subprotocol=choose) as server:
        # websockets refuses to select what was not offered; answer with it anyway
        yield next(iter(server.sockets)).getsockname()[1]


@asynccontextmanager
async def roomchat(tmp_path, **options) -> AsyncIterator[ServerThread]:
    thread = ServerThread(make_config(tmp_path / "data", **options))
    await asyncio.to_thread(thread.start)
    try:
        yield thread
    finally:
        await asyncio.to_thread(thread.stop)


async def first_cause(member: Member, url: str) -> tuple[str, float]:
    """Join ``url``; the Failure name emitted for the first failed try and how long it took."""
    began = time.monotonic()
    member.conn.join(url, "alice", "lobby")
    failure, _detail = await member.connectionFailed.wait(timeout=SHOWN_WITHIN + 3)
    return failure, time.monotonic() - began


def test_refused_port(run):
    async def scenario():
        member = Member()
        failure, took = await first_cause(member, f"ws://127.0.0.1:{free_port()}")
        assert failure == Failure.REFUSED.name and took < SHOWN_WITHIN
        await member.stateChanged.wait(lambda a: a == ("reconnecting", Failure.REFUSED.value))
        await member.conn.close()

    run(scenario())


@pytest.mark.parametrize(("server", "detail"), [(http_page, "HTTP 200"), (ssh_banner, "")])
def test_a_server_that_is_not_roomchat(run, server, detail):
    async def scenario():
        async with tcp_server(server) as port:
            member = Member()
            failure, took = await first_cause(member, f"ws://127.0.0.1:{port}")
            assert failure == Failure.NOT_ROOMCHAT.name and took < SHOWN_WITHIN
            assert member.connectionFailed.calls[0] == (Failure.NOT_ROOMCHAT.name, detail)
            await member.conn.close()

    run(scenario())


def test_a_websocket_server_with_another_subprotocol(run):
    async def scenario():
        async with other_subprotocol() as port:
            member = Member()
            failure, took = await first_cause(member, f"ws://127.0.0.1:{port}")
            assert failure == Failure.NOT_ROOMCHAT.name and took < SHOWN_WITHIN
            await member.conn.close()

    run(scenario())


def test_a_server_that_never_answers_times_out(run):
    async def scenario():
        async with tcp_server(silent) as port:
            member = Member(open_timeout=1.0)
            failure, took = await first_cause(member, f"ws://127.0.0.1:{port}")
            assert failure == Failure.TIMED_OUT.name and 0.9 < took < SHOWN_WITHIN
            await member.conn.close()

    run(scenario())


def test_a_full_server_says_so(run, tmp_path):
    async def scenario():
        async with roomchat(tmp_path, max_conns_per_ip=1) as thread:
            holder = await ChatPeer.open(thread.url)
            member = Member()
            failure, took = await first_cause(member, thread.url)
            assert failure == Failure.FULL.name and took < SHOWN_WITHIN
            assert member.connectionFailed.calls[0][1] == "HTTP 429"
            await member.conn.close()
            await holder.close()

    run(scenario())


def test_tls_on_one_side_only(run, tmp_path):
    async def scenario():
        async with roomchat(tmp_path) as plain:
            member = Member()
            failure, took = await first_cause(member, f"wss://127.0.0.1:{plain.port}")
            assert failure == Failure.NOT_TLS.name and took < SHOWN_WITHIN
            await member.conn.close()
        cert, key = make_certificate(tmp_path / "cert")
        async with roomchat(tmp_path, certfile=cert, keyfile=key) as secure:
            member = Member()
            failure, took = await first_cause(member, f"ws://127.0.0.1:{secure.port}")
            assert failure == Failure.NEEDS_TLS.name and took < SHOWN_WITHIN
            await member.conn.close()

    run(scenario())


def test_the_backoff_never_exceeds_its_cap():
    connection = ChatConnection(base_delay=1.0, max_delay=30.0, jitter=0.2)
    delays = [connection._delay(attempt) for attempt in range(1, 40) for _ in range(20)]
    assert max(delays) <= 30.0
    assert max(delays) == 30.0  # the cap is reached, so later tries wait exactly the cap


# What the window shows ----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_the_status_line_names_each_cause_in_the_current_language(run, windows, tmp_path, artifacts,
                                                                  language):
    translations = Translations(QCoreApplication.instance())
    translations.apply(language)

    def tr(text: str, context: str = "Failures") -> str:
        return QCoreApplication.translate(context, text)

    async def shows(window, url: str, expected: str, shot: str, key: str = "") -> float:
        began = time.monotonic()
        window.sidebar.key_edit.setText(key)
        fill_and_join(window, "alice", url)
        status = window.sidebar.status_label
        await until(lambda: expected in status.text(), timeout=SHOWN_WITHIN + 3,
                    what=f"{expected!r} in the status (shows {status.text()!r})")
        took = time.monotonic() - began
        assert "Connection lost" not in status.text() and "连接断开" not in status.text()
        retrying = window.connection.state is ConnectionState.RECONNECTING
        assert window.sidebar.retry_button.isVisibleTo(window.sidebar) == retrying  # "Retry now"
        window.sidebar.grab().save(str(artifacts / f"failure-{shot}-{language}.png"))
        await asyncio.sleep(0)
        window.leave()
        return took

    async def scenario():
        window = windows(f"failures-{language}", translations, open_timeout=1.0)
        timings = {}
        timings["refused"] = await shows(window, f"ws://127.0.0.1:{free_port()}",
                                         tr(Failure.REFUSED.value), "refused")
        async with tcp_server(http_page) as port:
            timings["http"] = await shows(window, f"http://127.0.0.1:{port}",
                                          tr(Failure.NOT_ROOMCHAT.value), "not-roomchat")
        async with tcp_server(silent) as port:
            timings["timeout"] = await shows(window, f"127.0.0.1:{port}", tr(Failure.TIMED_OUT.value),
                                             "timeout")
        async with roomchat(tmp_path, max_conns_per_ip=1) as thread:
            holder = await ChatPeer.open(thread.url)
            timings["full"] = await shows(window, thread.url, tr(Failure.FULL.value), "full")
            await holder.close()
        async with roomchat(tmp_path, key="s3cret") as thread:
            timings["key required"] = await shows(
                window, f":{thread.port}", tr("This server requires a room key: enter it", "MainWindow"),
                "key-required")
            assert window.sidebar.key_edit.isVisible()
            timings["wrong key"] = await shows(
                window, f":{thread.port}", tr("This room needs the right key", "MainWindow"),
                "wrong-key", key="guess")
        async with roomchat(tmp_path) as thread:
            holder = await ChatPeer.open(thread.url)
            await holder.join("alice", "room-1")
            timings["name taken"] = await shows(
                window, thread.url, tr("That name is already taken in this room", "MainWindow"), "name-taken")
            await holder.close()
        assert all(took < SHOWN_WITHIN for took in timings.values()), timings
        print(f"\ncause shown after ({language}):",
              ", ".join(f"{name} {took * 1000:.0f} ms" for name, took in timings.items()))

    try:
        run(scenario())
    finally:
        translations.apply("en")
