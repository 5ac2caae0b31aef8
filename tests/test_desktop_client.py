"""ChatConnection against real servers on loopback: ours, a minimal v1 one, the seed's server.js.

Each test runs one scenario coroutine on a qasync loop (STACK-NOTES: pytest-qt has no
asyncio support; signals are awaited through futures).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from conftest import TcpServer, free_port, make_config
from websockets.asyncio.server import serve

from desktop.addresses import normalize_url
from desktop.client import ChatConnection, ConnectionState
from desktop.failures import Failure
from server.thread import ServerThread

SEED_SERVER = Path("/work/shared/seed/server.js")
NODE_CACHE = Path.home() / ".cache" / "roomchat-tests" / "seed-node"


class Recorder:
    """Every emission of one signal, and a way for a coroutine to wait for a matching one."""

    def __init__(self, signal) -> None:
        self.calls: list[tuple] = []
        self._waiters: list[tuple] = []
        signal.connect(self._record)

    def _record(self, *args) -> None:
        self.calls.append(args)
        for waiter in list(self._waiters):
            predicate, future = waiter
            if not future.done() and predicate(args):
                future.set_result(args)

    async def wait(self, predicate=lambda args: True, timeout: float = 10.0, *, after: int = 0):
        """The first emission (from index ``after`` on) for which predicate(args) holds."""
        for args in self.calls[after:]:
            if predicate(args):
                return args
        future = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.remove(waiter)


class Member:
    """A ChatConnection with recorders on all its signals."""

    SIGNALS = (
        "stateChanged", "joined", "protocolChanged", "messageReceived", "historyReceived",
        "pendingAdded", "messageDelivered", "messageFailed", "messageRefused", "noticeReceived",
        "membersChanged", "typingChanged", "errorReceived", "connectionFailed", "reconnectScheduled",
    )

    def __init__(self, **options) -> None:
        self.conn = ChatConnection(**options)
        for signal in self.SIGNALS:
            setattr(self, signal, Recorder(getattr(self.conn, signal)))

    async def join(self, url: str, name: str, room: str = "lobby", key: str | None = None):
        after = len(self.stateChanged.calls)
        self.conn.join(url, name, room, key)
        await self.online(after=after)

    async def online(self, after: int = 0, timeout: float = 10.0):
        await self.stateChanged.wait(lambda a: a[0] == "online", timeout, after=after)

    def seen_ids(self) -> list[int]:
        """Ids of every record this member was shown: history, live and own acks."""
        ids = [r.id for (batch,) in self.historyReceived.calls for r in batch]
        ids += [r.id for (r,) in self.messageReceived.calls]
        ids += [r.id for (_, r) in self.messageDelivered.calls]
        return ids

    async def sees(self, text: str, timeout: float = 10.0) -> None:
        """Wait until a message from others with this content was shown (history or live)."""
        deadline = time.monotonic() + timeout
        while text not in self.texts():
            assert time.monotonic() < deadline, f"never saw {text!r}: {self.texts()}"
            await asyncio.sleep(0.02)

    def texts(self) -> list[str]:
        """Content of every record from others, history and live, in id order."""
        records = [r for (batch,) in self.historyReceived.calls for r in batch]
        records += [r for (r,) in self.messageReceived.calls]
        return [r.content for r in sorted(records, key=lambda r: r.id)]


def start_server(data_dir: Path, port: int = 0) -> ServerThread:
    thread = ServerThread(make_config(data_dir, port=port))
    thread.start()
    return thread


async def stop_server(thread: ServerThread) -> None:
    """Stop without blocking the loop, so our clients can answer the closing handshake."""
    await asyncio.to_thread(thread.stop)


@pytest.fixture
def server(tmp_path):
    thread = start_server(tmp_path / "data")
    yield thread
    thread.stop()


async def close_all(*members: Member) -> None:
    for member in members:
        await member.conn.close()


class Relay:
    """A TCP relay between client and server that a test can cut or silence, like a bad network."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.mute_up = False      # client -> server bytes dropped
        self.mute_down = False    # server -> client bytes dropped
        self._listener = TcpServer(self._serve)

    async def start(self) -> None:
        self.port = await self._listener.start(port=self.port)

    async def _serve(self, client_reader, client_writer) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._listener.track(server_writer)
        try:
            await asyncio.gather(
                self._pump(client_reader, server_writer, "mute_up"),
                self._pump(server_reader, client_writer, "mute_down"),
                return_exceptions=True,
            )
        finally:
            self._listener.forget(server_writer)

    async def _pump(self, reader, writer, mute: str) -> None:
        try:
            while data := await reader.read(65536):
                if not getattr(self, mute):
                    writer.write(data)
        finally:
            writer.close()

    def cut(self) -> None:
        """Reset every relayed connection, as when a cable is pulled and plugged back."""
        self._listener.abort_connections()
        self.mute_up = self.mute_down = False

    async def close(self) -> None:
        self.cut()
        await self._listener.close()


@pytest.mark.parametrize(
    ("typed", "url", "key"),
    [
        ("192.168.1.5:8080", "ws://192.168.1.5:8080/", None),
        (" http://host:80/?key=a%20b ", "ws://host:80/?key=a%20b", "a b"),
        ("https://host", "wss://host/", None),
        ("WS://host:1/", "ws://host:1/", None),
    ],
)
def test_typed_addresses_become_websocket_urls(typed, url, key):
    assert normalize_url(typed) == (url, key)


@pytest.mark.parametrize("typed", ["", "ws://", "ftp://host", "host:abc", "host:99999", "host:0"])
def test_non_addresses_are_refused(typed):
    with pytest.raises(ValueError):
        normalize_url(typed)


# Joining and chatting -------------------------------------------------------------------


def test_join_emits_welcome_protocol_2_and_history(run, server):
    async def scenario():
        alice, bob = Member(), Member()
        await alice.join(server.url, "alice")
        for text in ("one", "two"):
            alice.conn.send(text)
        await alice.messageDelivered.wait(lambda a: a[1].content == "two")
        await bob.join(server.url, "bob")
        (welcome,) = bob.joined.calls[0]
        assert (welcome.room, welcome.user_id) == ("lobby", "bob")
        assert set(welcome.members) == {"alice", "bob"}
        assert welcome.resume
        assert bob.protocolChanged.calls == [(2,)]
        history = await bob.historyReceived.wait()
        assert [(r.sender, r.content) for r in history[0]] == [("alice", "one"), ("alice", "two")]
        assert bob.conn.protocol_version == 2 and bob.conn.state is ConnectionState.ONLINE
        await alice.membersChanged.wait(lambda a: set(a[0]) == {"alice", "bob"})
        await close_all(alice, bob)

    run(scenario())


def test_two_members_chat_pending_then_delivered(run, server):
    async def scenario():
        alice, bob = Member(), Member()
        await alice.join(server.url, "alice")
        await bob.join(server.url, "bob")
        nonce = alice.conn.send("hello bob")
        assert alice.pendingAdded.calls[0][0] == nonce
        pending = alice.pendingAdded.calls[0][1]
        assert (pending.id, pending.sender, pending.nonce) == (0, "alice", nonce)
        _, acked = await alice.messageDelivered.wait(lambda a, nonce=nonce: a[0] == nonce)
        assert acked.id > 0 and acked.content == "hello bob" and acked.nonce == nonce
        (received,) = await bob.messageReceived.wait()
        assert (received.id, received.sender, received.content) == (acked.id, "alice", "hello bob")
        assert alice.messageReceived.calls == []  # own message is not shown twice
        secret = bob.conn.send("just for you", to="alice")
        await bob.messageDelivered.wait(lambda a: a[0] == secret)
        (private,) = await alice.messageReceived.wait(lambda a: a[0].to == "alice")
        assert private.content == "just for you"
        await close_all(alice, bob)

    run(scenario())


def test_a_restarted_app_still_sees_its_own_private_messages(run, server, tmp_path):
    """The resume secret outlives the app, so its private history is still its own."""
    from PySide6.QtCore import QSettings

    from desktop.settings import Settings

    def settings() -> Settings:  # what a restarted app reads: the same settings file
        return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))

    def history(member: Member) -> list[str]:
        return [r.content for (batch,) in member.historyReceived.calls for r in batch]

    async def scenario():
        bob, alice = Member(), Member(resume_secrets=settings())
        await bob.join(server.url, "bob")
        await alice.join(server.url, "alice")
        nonce = alice.conn.send("only for bob", to="bob")
        await alice.messageDelivered.wait(lambda a: a[0] == nonce)
        alice.conn.send("for everyone")
        await bob.sees("for everyone")
        await alice.conn.close()

        restarted = Member(resume_secrets=settings())
        await restarted.join(server.url, "alice")
        await restarted.historyReceived.wait()
        assert history(restarted)[-2:] == ["only for bob", "for everyone"]
        await restarted.conn.close()

        stranger = Member()  # the same name without the secret: public history only
        await stranger.join(server.url, "alice")
        await stranger.historyReceived.wait()
        assert "for everyone" in history(stranger) and "only for bob" not in history(stranger)
        await close_all(bob, stranger)

    run(scenario())


def test_typing_and_leave_reach_the_other_member(run, server):
    async def scenario():
        alice, bob = Member(), Member()
        await alice.join(server.url, "alice")
        await bob.join(server.url, "bob")
        alice.conn.set_typing(True)
        await bob.typingChanged.wait(lambda a: a == ("alice", True))
        alice.conn.set_typing(True)  # within 2 s: not repeated
        alice.conn.set_typing(False)
        await bob.typingChanged.wait(lambda a: a == ("alice", False))
        assert bob.typingChanged.calls == [("alice", True), ("alice", False)]
        alice.conn.leave()
        assert alice.conn.state is ConnectionState.OFFLINE
        await bob.membersChanged.wait(lambda a: a[0] == ("bob",))
        await asyncio.sleep(1.5)  # a reconnect would come after about 1 s
        assert alice.reconnectScheduled.calls == []
        assert alice.conn.state is ConnectionState.OFFLINE
        await close_all(alice, bob)

    run(scenario())


def test_rejoin_after_leave_gets_the_recent_history_again(run, server):
    async def scenario():
        alice = Member()
        await alice.join(server.url, "alice")
        alice.conn.send("said earlier")
        await alice.messageDelivered.wait()
        alice.conn.leave()
        await alice.join(server.url.removeprefix("ws://"), "alice")  # typed without the scheme
        history = await alice.historyReceived.wait(lambda a: len(a[0]) > 0)
        assert [(r.sender, r.content) for r in history[0]] == [("alice", "said earlier")]
        assert alice.conn.url == server.url + "/"
        await close_all(alice)

    run(scenario())


def test_refused_messages_fail_and_retry_resends(run, server):
    async def scenario():
        alice = Member()
        await alice.join(server.url, "alice")
        blank = alice.conn.send("   ")
        long = alice.conn.send("x" * 4001)
        await alice.messageFailed.wait(lambda a: a[0] == long)
        assert alice.messageRefused.calls == [(blank, "empty"), (long, "too_long")]
        assert [nonce for nonce, _ in alice.messageFailed.calls] == [blank, long]
        nobody = alice.conn.send("hi", to="nobody")
        await alice.messageRefused.wait(lambda a: a == (nobody, "no_such_member"))
        alice.conn.retry(nobody)
        assert alice.pendingAdded.calls[-1][0] == nobody
        await alice.messageFailed.wait(lambda a: a[0] == nobody, after=3)
        assert alice.messageDelivered.calls == []
        await close_all(alice)

    run(scenario())


def test_name_taken_and_bad_input_are_refused_without_reconnecting(run, server):
    async def scenario():
        alice, impostor, nameless, lost = Member(), Member(), Member(), Member()
        await alice.join(server.url, "alice")
        impostor.conn.join(server.url, "ALICE", "lobby")
        await impostor.errorReceived.wait(lambda a: a[0] == "name_taken")
        await impostor.stateChanged.wait(lambda a: a[0] == "offline")
        nameless.conn.join(server.url, "  ", "lobby")
        await nameless.errorReceived.wait(lambda a: a[0] == "bad_name")
        lost.conn.join("http://", "carol", "lobby")
        assert lost.errorReceived.calls[0][0] == "bad_address"
        assert lost.conn.state is ConnectionState.OFFLINE
        await asyncio.sleep(1.5)
        for member in (impostor, nameless, lost):
            assert member.reconnectScheduled.calls == []
            assert member.conn.state is ConnectionState.OFFLINE
        await close_all(alice, impostor, nameless, lost)

    run(scenario())


# Reconnecting -----------------------------------------------------------------------------


def test_server_restart_mid_chat_loses_nothing_and_repeats_nothing(run, tmp_path):
    async def scenario():
        data = tmp_path / "data"
        thread = start_server(data)
        port = thread.port
        alice, bob = Member(), Member()
        await alice.join(thread.url, "alice")
        await bob.join(thread.url, "bob")
        alice.conn.send("before 1")
        bob.conn.send("before 2")
        await alice.messageReceived.wait(lambda a: a[0].content == "before 2")
        await bob.messageReceived.wait(lambda a: a[0].content == "before 1")

        await stop_server(thread)
        await alice.stateChanged.wait(lambda a: a == ("reconnecting", Failure.SHUTTING_DOWN.value))
        await bob.stateChanged.wait(lambda a: a[0] == "reconnecting")
        while_down = [alice.conn.send("alice offline 1"), alice.conn.send("alice offline 2")]
        bob.conn.send("bob offline")
        assert len(alice.conn.pending) == 2

        thread = start_server(data, port)
        try:
            await alice.online(after=2, timeout=15)
            await bob.online(after=2, timeout=15)
            for nonce in while_down:
                await alice.messageDelivered.wait(lambda a, nonce=nonce: a[0] == nonce)
            await alice.sees("bob offline")
            await bob.sees("alice offline 2")
            bob.conn.send("after")
            await alice.messageReceived.wait(lambda a: a[0].content == "after")
            await asyncio.sleep(0.3)
            for member in (alice, bob):
                ids = member.seen_ids()
                assert len(ids) == len(set(ids)) == 6, ids
                assert set(ids) == set(range(min(ids), min(ids) + 6))
            assert alice.texts() == ["before 2", "bob offline", "after"]
            assert bob.texts() == ["before 1", "alice offline 1", "alice offline 2"]
            assert bob.protocolChanged.calls == [(2,), (2,)]
        finally:
            await close_all(alice, bob)
            await stop_server(thread)

    run(scenario())


def test_a_long_absence_notices_that_older_messages_were_left_out(run, tmp_path):
    from server.hub import RESUME_MAX
    from server.protocol import ChatRecord
    from server.store import HistoryStore

    async def scenario():
        data = tmp_path / "data"
        thread = start_server(data)
        port = thread.port
        alice = Member()
        await alice.join(thread.url, "alice")
        hello = alice.conn.send("hello")
        await alice.messageDelivered.wait(lambda a: a[0] == hello)
        await stop_server(thread)
        await alice.stateChanged.wait(lambda a: a[0] == "reconnecting")
        store = HistoryStore(data / "history.sqlite3", retention=0)
        store.append_batch([ChatRecord(i, "lobby", "bob", f"m{i}", 0) for i in range(2, RESUME_MAX + 7)])
        store.close()
        mark = len(alice.stateChanged.calls)
        thread = start_server(data, port)
        try:
            await alice.online(after=mark, timeout=15)
            notice = await alice.noticeReceived.wait(lambda a: a[0].event == "truncated")
            assert "newest 1,000" in notice[0].content
            await asyncio.sleep(0.3)
            assert alice.seen_ids() == [*range(7, RESUME_MAX + 7), 1]  # history first, then own ack
        finally:
            await close_all(alice)
            await stop_server(thread)

    run(scenario())


def test_a_history_reset_on_the_server_is_told_and_new_ids_are_shown(run, tmp_path):
    """A store that came back empty (a Redis without persistence, a deleted database): the
    server says so, and the client stops waiting for ids beyond the old last one."""

    async def scenario():
        data = tmp_path / "data"
        thread = start_server(data)
        port = thread.port
        alice = Member()
        await alice.join(thread.url, "alice")
        for text in ("one", "two"):
            sent = alice.conn.send(text)
            await alice.messageDelivered.wait(lambda a, sent=sent: a[0] == sent)
        await stop_server(thread)
        await alice.stateChanged.wait(lambda a: a[0] == "reconnecting")
        for leftover in data.glob("*.sqlite3*"):
            leftover.unlink()
        mark = len(alice.stateChanged.calls)
        thread = start_server(data, port)
        try:
            await alice.online(after=mark, timeout=15)
            notice = await alice.noticeReceived.wait(lambda a: a[0].event == "history_reset")
            assert "history" in notice[0].content
            again = alice.conn.send("three")
            delivered = await alice.messageDelivered.wait(lambda a: a[0] == again)
            assert delivered[1].id == 1  # the new first id, not dropped as already seen
            assert alice.conn.last_id == 1
        finally:
            await close_all(alice)
            await stop_server(thread)

    run(scenario())


def test_network_cut_resumes_with_since_exactly_once(run, server):
    async def scenario():
        relay = Relay(server.port)
        await relay.start()
        alice, bob = Member(), Member()
        await alice.join(f"ws://127.0.0.1:{relay.port}", "alice")
        await bob.join(server.url, "bob")
        bob.conn.send("seen before the cut")
        await alice.messageReceived.wait()
        relay.cut()
        await alice.stateChanged.wait(lambda a: a == ("reconnecting", Failure.LOST.value))
        for i in range(3):
            bob.conn.send(f"said while alice was away {i}")
        await bob.messageDelivered.wait(lambda a: a[1].content.endswith("2"))
        await alice.online(after=2, timeout=10)
        history = await alice.historyReceived.wait(lambda a: len(a[0]) > 0)
        assert [r.content for r in history[0]] == [f"said while alice was away {i}" for i in range(3)]
        ids = alice.seen_ids()
        assert len(ids) == len(set(ids)) == 4
        assert alice.reconnectScheduled.calls[0][0] == 1
        assert 0.7 <= alice.reconnectScheduled.calls[0][1] <= 1.3  # 1 s +-20 %
        await close_all(alice, bob)
        await relay.close()

    run(scenario())


def test_first_connect_refused_then_queue_flushes_in_order(run, tmp_path):
    async def scenario():
        port = free_port()
        alice = Member()
        alice.conn.join(f"ws://127.0.0.1:{port}", "alice", "lobby")
        await alice.stateChanged.wait(lambda a: a == ("reconnecting", Failure.REFUSED.value))
        nonces = [alice.conn.send(f"queued {i}") for i in range(3)]
        assert [n for n, _ in alice.pendingAdded.calls] == nonces
        thread = start_server(tmp_path / "data", port)
        try:
            await alice.online(timeout=15)
            await alice.messageDelivered.wait(lambda a: a[0] == nonces[-1])
            delivered = alice.messageDelivered.calls
            assert [n for n, _ in delivered] == nonces
            ids = [r.id for _, r in delivered]
            assert ids == sorted(ids) and len(set(ids)) == 3
            bob = Member()
            await bob.join(thread.url, "bob")
            history = await bob.historyReceived.wait()
            assert [r.content for r in history[0]] == ["queued 0", "queued 1", "queued 2"]
            await close_all(alice, bob)
        finally:
            await stop_server(thread)

    run(scenario())


def test_unacked_message_is_resent_once_and_acked_one_is_not(run, server):
    async def scenario():
        relay = Relay(server.port)
        await relay.start()
        alice, bob = Member(), Member()
        await alice.join(f"ws://127.0.0.1:{relay.port}", "alice")
        await bob.join(server.url, "bob")

        relay.mute_down = True  # the server stores it, but the ack never arrives
        stored = alice.conn.send("stored, ack lost")
        await bob.messageReceived.wait(lambda a: a[0].content == "stored, ack lost")
        relay.cut()
        await alice.online(after=2, timeout=10)
        _, record = await alice.messageDelivered.wait(lambda a: a[0] == stored)
        assert record.id == bob.messageReceived.calls[0][0].id

        relay.mute_up = True  # never reaches the server
        lost = alice.conn.send("never arrived")
        await asyncio.sleep(0.3)
        relay.cut()
        online_count = sum(1 for a in alice.stateChanged.calls if a[0] == "online")
        await alice.stateChanged.wait(lambda a: a[0] == "online", after=len(alice.stateChanged.calls))
        assert sum(1 for a in alice.stateChanged.calls if a[0] == "online") == online_count + 1
        await alice.messageDelivered.wait(lambda a: a[0] == lost)
        await bob.messageReceived.wait(lambda a: a[0].content == "never arrived")
        await asyncio.sleep(0.3)
        assert [r.content for (r,) in bob.messageReceived.calls] == ["stored, ack lost", "never arrived"]
        assert alice.historyReceived.calls[-1] == ((),)  # the matched record is not shown twice
        await close_all(alice, bob)
        await relay.close()

    run(scenario())


def test_resume_takes_over_a_stale_session_at_once(run, server):
    async def scenario():
        relay = Relay(server.port)
        await relay.start()
        alice = Member(heartbeat_interval=0.3, pong_timeout=0.3, ws_ping_interval=None)
        bob = Member()
        await alice.join(f"ws://127.0.0.1:{relay.port}", "alice")
        await bob.join(server.url, "bob")
        relay.mute_up = relay.mute_down = True  # the server still thinks alice is there
        started = time.monotonic()
        await alice.stateChanged.wait(lambda a: a == ("reconnecting", f"{Failure.NO_ANSWER.value} (no answer to ping)"))
        relay.mute_up = relay.mute_down = False  # new connections pass
        await alice.online(after=2, timeout=10)
        assert time.monotonic() - started < 3.5
        assert alice.errorReceived.calls == []
        bob.conn.send("still one alice?")
        await alice.messageReceived.wait(lambda a: a[0].content == "still one alice?")
        assert bob.membersChanged.calls[-1][0].count("alice") == 1
        await close_all(alice, bob)
        await relay.close()

    run(scenario())


def test_missing_pong_means_dead_connection(run):
    async def silent_after_welcome(ws):
        await ws.recv()
        await ws.send(json.dumps({"type": "welcome", "room": "lobby", "userId": "alice",
                                  "online": 1, "members": ["alice"], "resume": "s", "lastId": 0}))
        await ws.send(json.dumps({"type": "history", "messages": []}))
        async for _ in ws:  # reads pings, never answers them
            pass

    async def scenario():
        async with serve(silent_after_welcome, "127.0.0.1", 0, ping_interval=None) as silent:
            port = silent.sockets[0].getsockname()[1]
            alice = Member(heartbeat_interval=0.2, pong_timeout=0.3, ws_ping_interval=None)
            await alice.join(f"ws://127.0.0.1:{port}", "alice")
            started = time.monotonic()
            await alice.stateChanged.wait(lambda a: a == ("reconnecting", f"{Failure.NO_ANSWER.value} (no answer to ping)"))
            assert 0.4 <= time.monotonic() - started < 2.0
            await alice.conn.close()

    run(scenario())


def test_gives_up_after_ten_tries_and_retry_now_recovers(run, tmp_path):
    async def scenario():
        port = free_port()
        alice = Member(base_delay=0.01, max_delay=0.1, gave_up_retry=60)
        alice.conn.join(f"ws://127.0.0.1:{port}", "alice", "lobby")
        (_, reason) = await alice.stateChanged.wait(lambda a: a[0] == "gave_up")
        assert reason == f"could not reconnect after 10 tries ({Failure.REFUSED.value})"
        assert [attempt for attempt, _ in alice.reconnectScheduled.calls] == list(range(1, 11))
        delays = [delay for _, delay in alice.reconnectScheduled.calls]
        assert delays[1] > delays[0] * 1.2  # doubling, not fixed
        thread = start_server(tmp_path / "data", port)
        try:
            await asyncio.sleep(0.5)
            assert alice.conn.state is ConnectionState.GAVE_UP  # shown until the person acts
            alice.conn.retry_now()
            await alice.online(timeout=2)
            await alice.conn.close()
        finally:
            await stop_server(thread)

    run(scenario())


def test_after_giving_up_a_quiet_retry_still_finds_the_server(run, tmp_path):
    async def scenario():
        port = free_port()
        alice = Member(base_delay=0.01, max_delay=0.05, gave_up_retry=0.3)
        alice.conn.join(f"ws://127.0.0.1:{port}", "alice", "lobby")
        await alice.stateChanged.wait(lambda a: a[0] == "gave_up")
        shown = len(alice.stateChanged.calls)
        await asyncio.sleep(1.0)  # about three quiet tries, all refused
        assert len(alice.stateChanged.calls) == shown  # the GAVE_UP message does not flicker
        thread = start_server(tmp_path / "data", port)
        try:
            await alice.online(timeout=3)
            await alice.conn.close()
        finally:
            await stop_server(thread)

    run(scenario())


# v1 servers -------------------------------------------------------------------------------


async def chat_against_v1(url: str) -> None:
    """Two members on a v1-only server: own messages shown locally, others' received."""
    alice, bob = Member(), Member()
    await alice.join(url, "alice")
    await bob.join(url, "bob")
    assert alice.protocolChanged.calls == [(1,)] and alice.conn.protocol_version == 1
    (welcome,) = alice.joined.calls[0]
    assert (welcome.room, welcome.user_id, welcome.members, welcome.last_id) == ("lobby", "alice", (), 0)
    assert alice.noticeReceived.calls  # the server's own "joined" text
    await alice.noticeReceived.wait(lambda a: "bob" in a[0].content)
    nonce = alice.conn.send("hello from v2")
    _, shown = await alice.messageDelivered.wait(lambda a: a[0] == nonce, timeout=1)
    assert (shown.id, shown.sender, shown.content) == (0, "alice", "hello from v2")
    (record,) = await bob.messageReceived.wait()
    assert (record.sender, record.content, record.id) == ("alice", "hello from v2", 0)
    bob.conn.send("reply")
    await alice.messageReceived.wait(lambda a: a[0].content == "reply")
    assert bob.historyReceived.calls == []
    await close_all(alice, bob)


def test_v1_fallback_against_minimal_v1_server(run):
    members: dict = {}

    async def v1_room(ws):
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("type") == "join":
                members[ws] = msg["userId"]
                await ws.send(json.dumps({"type": "system", "content": f"已加入房间「{msg['room']}」"}))
                for other in members:
                    if other is not ws:
                        await other.send(json.dumps({"type": "system", "content": f"用户「{msg['userId']}」加入了房间"}))
            elif msg.get("type") == "chat" and ws in members:
                frame = json.dumps({"type": "chat", "from": members[ws], "content": msg["content"],
                                    "timestamp": int(time.time() * 1000)})
                for other in members:
                    if other is not ws:
                        await other.send(frame)
            elif msg.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
        members.pop(ws, None)

    async def scenario():
        async with serve(v1_room, "127.0.0.1", 0) as v1:
            await chat_against_v1(f"ws://127.0.0.1:{v1.sockets[0].getsockname()[1]}")

    run(scenario())


def _seed_node_dir() -> Path:
    """A directory with the seed's server.js (as an ES module) and the `ws` package from npm."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: cannot run the seed's server.js")
    if not (NODE_CACHE / "node_modules" / "ws").is_dir():
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        (NODE_CACHE / "package.json").write_text('{"type": "module", "private": true}')
        result = subprocess.run(
            ["npm", "install", "ws", "--no-audit", "--no-fund"], cwd=NODE_CACHE,
            capture_output=True, text=True, timeout=120, check=False,
        )
        if result.returncode != 0:
            pytest.skip(f"npm install ws failed (no registry?): {result.stderr[-300:]}")
    shutil.copy(SEED_SERVER, NODE_CACHE / "server.js")
    return NODE_CACHE


def test_v1_fallback_against_the_seed_server_js(run):
    node_dir = _seed_node_dir()
    port = free_port()
    process = subprocess.Popen(
        ["node", "server.js"], cwd=node_dir, env={**os.environ, "PORT": str(port)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()  # "WebSocket 服务器运行在 ..." once listening
        run(chat_against_v1(f"ws://127.0.0.1:{port}"))
    finally:
        process.terminate()
        process.wait(5)


def test_many_signal_emits_leave_true_alive():
    """PySide6 6.12.0's emit() drops a reference to True each time; desktop/__init__ repairs it."""
    import gc
    import sys

    source = ChatConnection()
    received = []
    source.typingChanged.connect(lambda *args: received.append(args))
    gc.collect()
    gc.disable()  # freeing other tests' garbage would move True's count too
    try:
        before = sys.getrefcount(True)
        for _ in range(5000):
            source.typingChanged.emit("bob", False)
        after = sys.getrefcount(True)
    finally:
        gc.enable()
    assert len(received) == 5000
    assert after > before - 100  # without the repair: before - 5000, then a crash


def test_long_offline_queue_is_paced_below_the_rate_limit(run, server):
    async def scenario():
        alice, bob = Member(), Member()
        await bob.join(server.url, "bob")
        nonces = [alice.conn.send(f"queued {i}") for i in range(60)]  # the server allows bursts of 40
        await alice.join(server.url, "alice")
        await alice.messageDelivered.wait(lambda a: a[0] == nonces[-1], timeout=15)
        assert alice.messageFailed.calls == []
        assert [n for n, _ in alice.messageDelivered.calls] == nonces
        await bob.sees("queued 59")
        assert bob.texts() == [f"queued {i}" for i in range(60)]
        await close_all(alice, bob)

    run(scenario())
