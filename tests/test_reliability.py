"""Nothing lost, nothing doubled: kill -9 mid-stream, graceful stops, a database that fails.

The headless server runs as a subprocess so that SIGKILL really kills it; clients behave
like the desktop client: resume with ``since``, settle unacknowledged messages by the nonce
the resumed history shows, and send again only what is not there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ChatPeer, free_port, make_config, run
from websockets.exceptions import ConnectionClosed

from server.store import HistoryStore
from server.thread import ServerThread

ROOM = "r"
WINDOW = 40
"""Unacknowledged messages a talker keeps in flight (the server sees a steady stream)."""


def start_headless(data_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir), "--rate-limit", "0", "--log-level", "error", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


async def wait_listening(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            peer = await ChatPeer.open(url, open_timeout=1)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        await peer.close()
        return
    raise AssertionError("the server did not come up")


class Talker:
    """A v2 member that streams numbered messages and keeps what it saw, across restarts."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[int] = []  # every id received, in arrival order, over all connections
        self.unacked: dict[str, str] = {}  # nonce -> content, sent but not yet seen stored
        self.nonces = (f"{name}-{i}" for i in itertools.count())
        self.sent: set[str] = set()
        self.resume: str | None = None
        self.close_codes: list[int | None] = []

    def _take(self, record: dict) -> None:
        self.seen.append(record["id"])
        self.unacked.pop(record.get("nonce"), None)

    async def _receive(self, peer: ChatPeer, history_done: asyncio.Event) -> None:
        """Take every frame until the connection ends (the server died or the talker left)."""
        with contextlib.suppress(ConnectionClosed):
            await self._read(peer, history_done)

    async def _read(self, peer: ChatPeer, history_done: asyncio.Event) -> None:
        async for text in peer.connection:
            frame = json.loads(text)
            if frame["type"] == "history":
                for record in frame["messages"]:
                    self._take(record)
            elif frame["type"] == "chat":
                self._take(frame)
            elif frame["type"] == "welcome":
                self.resume = frame["resume"]
            elif frame["type"] == "pong":
                history_done.set()
            elif frame["type"] == "error":
                raise AssertionError(f"{self.name} got {frame}")

    async def session(self, url: str, streaming: asyncio.Event) -> None:
        """Join (resuming), resend what the history does not show, stream until cut off."""
        peer = await ChatPeer.open(url)
        since = {"since": self.seen[-1]} if self.seen else {}
        await peer.send(type="join", userId=self.name, room=ROOM, resume=self.resume, **since)
        await peer.send(type="ping")  # its pong comes after the whole history
        history_done = asyncio.Event()
        receiver = asyncio.create_task(self._receive(peer, history_done))
        try:
            await asyncio.wait_for(history_done.wait(), 10)
            for nonce, content in list(self.unacked.items()):
                await peer.send(type="chat", content=content, nonce=nonce)
            while streaming.is_set() and not receiver.done():
                if len(self.unacked) < WINDOW:
                    nonce = next(self.nonces)
                    self.unacked[nonce] = f"{nonce} says hello"
                    self.sent.add(nonce)
                    await peer.send(type="chat", content=self.unacked[nonce], nonce=nonce)
                else:
                    await asyncio.sleep(0.002)
            if not receiver.done():
                await asyncio.wait_for(self._settled(), 10)
                await peer.close()
        except ConnectionClosed:
            pass
        await receiver
        self.close_codes.append(peer.connection.close_code)

    async def _settled(self) -> None:
        while self.unacked:
            await asyncio.sleep(0.01)


def read_everything(data_dir: Path) -> list[dict]:
    """Every message of the room as stored, read once the server has stopped.

    (A newcomer's resume is capped at the newest 1,000 messages; the audit wants them all.)
    """
    from server.store import HistoryStore

    store = HistoryStore(data_dir / "history.sqlite3", retention=0)
    try:
        return [{"id": r.id, "content": r.content} for r in store.since(ROOM, "auditor", 0, 10**9)]
    finally:
        store.close()


def test_kill_9_and_sigterm_mid_stream_lose_nothing_and_double_nothing(tmp_path):
    """Four v2 members stream; the server dies (SIGKILL, SIGTERM, SIGKILL) and comes back."""
    data, port = tmp_path / "data", free_port()
    url = f"ws://127.0.0.1:{port}"
    faults = [signal.SIGKILL, signal.SIGTERM, signal.SIGKILL]
    talkers = [Talker(f"t{i}") for i in range(4)]
    in_flight: list[int] = []

    async def scenario():
        for fault in [*faults, None]:
            proc = start_headless(data, port, "--retention", "0")  # keep all: the audit reads everything
            await wait_listening(url, proc)
            streaming = asyncio.Event()
            streaming.set()
            sessions = [asyncio.create_task(t.session(url, streaming)) for t in talkers]
            await asyncio.sleep(0.6)  # mid-stream: every talker has messages in flight
            if fault is None:
                streaming.clear()
                await asyncio.gather(*sessions)
                # A talker that settled first left before the others' last messages reached it:
                # one more resume (nothing left to send) catches up, as a reconnect would.
                await asyncio.gather(*(t.session(url, streaming) for t in talkers))
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(10) == 0
                return read_everything(data)
            while not any(t.unacked for t in talkers):  # strike while messages are in flight
                await asyncio.sleep(0)
            in_flight.append(sum(len(t.unacked) for t in talkers))
            proc.send_signal(fault)
            await asyncio.gather(*sessions)
            assert proc.wait(10) == (0 if fault == signal.SIGTERM else -signal.SIGKILL), proc.stderr.read()

    stored = run(scenario())
    ids = [m["id"] for m in stored]
    assert ids == sorted(set(ids)), "ids strictly increasing, none repeated"
    nonces = [m["content"].split()[0] for m in stored]  # a newcomer sees no nonces, contents name them
    everything_sent = set().union(*(t.sent for t in talkers))
    assert len(nonces) == len(set(nonces)), "a message was stored twice"
    assert set(nonces) == everything_sent, "a message was lost"
    for talker in talkers:
        assert talker.unacked == {}
        missing, extra = sorted(set(ids) - set(talker.seen)), len(talker.seen) - len(set(talker.seen))
        assert talker.seen == ids, f"{talker.name}: missed {missing[:20]} ({len(missing)}), {extra} repeated"
        assert talker.close_codes[1] == 1001  # SIGTERM closed it properly
    print(f"\nkill/restart: {len(faults)} faults with {in_flight} messages in flight, "
          f"{len(ids)} messages checked, lost 0, doubled 0")


# Opening the database --------------------------------------------------------------------


def _refusal(data_dir: Path) -> tuple[int, list[str]]:
    proc = start_headless(data_dir, free_port())
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err.strip().splitlines()


def _damage_pages(db: Path) -> None:
    """A real history database whose table pages are overwritten behind SQLite's back."""
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE messages (room TEXT, id INTEGER, PRIMARY KEY (room, id)) WITHOUT ROWID")
    connection.executemany("INSERT INTO messages VALUES ('r', ?)", [(i,) for i in range(20_000)])
    connection.commit()
    connection.close()
    with open(db, "r+b") as file:
        file.seek(4096 * 40)  # a leaf in the middle: opening and a first lookup do not notice
        file.write(b"\xde\xad\xbe\xef" * 4096)


def test_the_write_ahead_log_shrinks_back_after_a_burst(tmp_path):
    """Sustained commits grow the WAL; once quiet, it is rewound and cut to WAL_SIZE_LIMIT."""
    from server.protocol import ChatRecord
    from server.store import WAL_SIZE_LIMIT, HistoryStore

    store = HistoryStore(tmp_path / "history.sqlite3", retention=0)
    wal = tmp_path / "history.sqlite3-wal"
    ids = iter(range(1, 10**9))

    def commit() -> None:
        store.append_batch([ChatRecord(next(ids), "room", "alice", "x" * 200, time.time(), None, None)])

    try:
        while not wal.exists() or wal.stat().st_size <= WAL_SIZE_LIMIT * 3 // 2:  # the burst
            commit()
        peak = wal.stat().st_size
        deadline = time.monotonic() + 5
        while wal.stat().st_size > WAL_SIZE_LIMIT and time.monotonic() < deadline:
            time.sleep(0.2)  # quiet: the checkpointer catches up, the next commit rewinds
            commit()
        assert wal.stat().st_size <= WAL_SIZE_LIMIT, (peak, wal.stat().st_size)
    finally:
        store.close()


def test_a_garbage_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "history.sqlite3").write_bytes(b"this is not a database\n" * 500)
    code, lines = _refusal(tmp_path)
    assert code == 2 and len(lines) == 1, lines
    assert "cannot use the history database" in lines[0] and "not a database" in lines[0]


def test_a_damaged_database_is_refused_in_one_line(tmp_path):
    _damage_pages(tmp_path / "history.sqlite3")
    code, lines = _refusal(tmp_path)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("roomchat-server: cannot use the history database")


def test_a_database_locked_by_another_program_is_refused(tmp_path):
    HistoryStore(tmp_path / "history.sqlite3").close()
    other = sqlite3.connect(tmp_path / "history.sqlite3", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        code, lines = _refusal(tmp_path)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == 2 and len(lines) == 1, lines
    assert "database is locked" in lines[0]


def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path):
    port = free_port()
    first = start_headless(tmp_path, port)
    try:
        run(wait_listening(f"ws://127.0.0.1:{port}", first))
        code, lines = _refusal(tmp_path)
    finally:
        first.terminate()
        first.wait(10)
    assert code == 2 and len(lines) == 1, lines
    assert "another RoomChat server is using this data folder" in lines[0]
    # Once the first one is gone the folder is free again.
    thread = ServerThread(make_config(tmp_path))
    thread.start()
    thread.stop()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs (needs root); the test fills and frees it."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_read_only_data_dir_is_refused(tiny_disk):
    HistoryStore(tiny_disk / "kept" / "history.sqlite3").close()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    for data_dir in (tiny_disk / "kept", tiny_disk / "new"):
        code, lines = _refusal(data_dir)
        assert code == 2 and len(lines) == 1, lines
        assert lines[0].startswith("roomchat-server: cannot use the data folder"), lines
        assert "read-only" in lines[0].lower(), lines


def test_a_full_disk_mid_conversation_answers_unavailable_then_recovers(tiny_disk, caplog):
    thread = ServerThread(make_config(tiny_disk / "data", rate_limit=0))
    thread.start()
    filler = tiny_disk / "filler"
    try:
        async def scenario():
            alice = await ChatPeer.open(thread.url)
            await alice.join("alice", ROOM)
            seed = await ChatPeer.open(thread.url, v2=False)
            await seed.join("seed", ROOM)
            bob = await ChatPeer.open(thread.url)
            await bob.join("bob", ROOM)
            for peer in (alice, bob, seed):
                await peer.nothing(0.1)
            await alice.send(type="chat", content="before", nonce="b")
            first = await alice.expect("chat", nonce="b")
            await bob.expect("chat", content="before")
            _fill(filler)
            refused = 0
            for i in range(20):  # the WAL needs a fresh page sooner or later
                await alice.send(type="chat", content="x" * 3000, nonce=f"f{i}")
                reply = await alice.recv()
                if reply["type"] == "error":
                    assert reply["code"] == "unavailable" and reply["nonce"] == f"f{i}"
                    refused += 1
                    break
            assert refused, "the disk never filled"
            # Space comes and goes (a checkpoint lets the WAL reuse its file): a v1 sender
            # is told on the first write that fails, and that message reaches nobody.
            _fill(filler.with_name("filler-2"))
            refused_v1 = None
            for i in range(20):
                await seed.send(type="chat", content=f"seed {i} " + "y" * 3000)
                notices = [f for f in await seed.nothing(0.3) if f["type"] == "system"]
                if notices:
                    assert "未能保存" in notices[0]["content"]
                    refused_v1 = f"seed {i} "
                    break
            assert refused_v1, "the v1 sender was never told"
            for frame in await bob.nothing(0.3):
                assert not frame.get("content", "").startswith(refused_v1)
            filler.unlink()
            filler.with_name("filler-2").unlink()
            await alice.send(type="chat", content="after", nonce="a")
            after = await alice.expect("chat", nonce="a")
            assert after["id"] > first["id"]
            assert (await bob.expect("chat", content="after"))["id"] == after["id"]
            return i + 1

        with caplog.at_level(logging.ERROR, logger="server.hub"):
            attempts = run(scenario())
        assert any("history write failed" in r.getMessage() for r in caplog.records)
        assert attempts >= 1
    finally:
        filler.unlink(missing_ok=True)
        filler.with_name("filler-2").unlink(missing_ok=True)
        thread.stop()


def _fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # no space left: that was the point
    finally:
        os.close(fd)
