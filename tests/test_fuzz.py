"""Hostile input: generated frames against a live headless server.

After every batch the server must still carry a normal conversation, stay within a memory
bound, and have relayed nothing malformed: a v2 and a v1 witness in the fuzzed room only ever
receive well-formed frames of the types their protocol knows.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import client_frame, free_port, make_config, raw_websocket, wait_listening
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server.protocol import SUBPROTOCOL
from server.thread import ServerThread

pytestmark = pytest.mark.timeout(120)

ROOM = "fuzz"
RSS_LIMIT_KIB = 200 * 1024
FUZZ = settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# What may reach a member ------------------------------------------------------------------


def _is_name(value) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 32 and value == value.strip() and value.isprintable()


def _is_chat_v2(frame: dict) -> bool:
    return (
        set(frame) <= {"type", "id", "room", "from", "content", "timestamp", "to", "nonce"}
        and type(frame["id"]) is int and frame["id"] > 0
        and frame["room"] == ROOM
        and _is_name(frame["from"])
        and isinstance(frame["content"], str) and 1 <= len(frame["content"]) <= 4000 and frame["content"].strip() != ""
        and "\x00" not in frame["content"]
        and type(frame["timestamp"]) is int
        and ("to" not in frame or _is_name(frame["to"]))
    )


def well_formed_v2(frame: dict) -> bool:
    """A frame a v2 member that sent nothing may receive: chat, presence, members, typing."""
    kind = frame.get("type")
    if kind == "chat":
        return _is_chat_v2(frame)
    if kind == "system":
        return (set(frame) == {"type", "content", "event", "userId"} and frame["event"] in ("join", "leave")
                and _is_name(frame["userId"]) and isinstance(frame["content"], str))
    if kind == "members":
        return set(frame) == {"type", "members"} and all(_is_name(m) for m in frame["members"])
    if kind == "typing":
        return set(frame) == {"type", "from", "active"} and _is_name(frame["from"]) and type(frame["active"]) is bool
    return False


def well_formed_v1(frame: dict) -> bool:
    """The seed page knows two shapes: system text and chat."""
    if frame.get("type") == "system":
        return set(frame) == {"type", "content"} and isinstance(frame["content"], str)
    return (
        frame.get("type") == "chat" and set(frame) == {"type", "from", "content", "timestamp"}
        and _is_name(frame["from"]) and isinstance(frame["content"], str) and 1 <= len(frame["content"]) <= 4100
        and type(frame["timestamp"]) is int
    )


# The arena: one server, its witnesses, a calm pair ---------------------------------------------


def _client(port: int, *, v2: bool = True) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{port}", subprotocols=[SUBPROTOCOL] if v2 else None,
                   compression=None, max_size=2**20, max_queue=None, open_timeout=5, legacy=True)


def _drain(connection: ClientConnection, wait: float = 0.0) -> list[dict]:
    frames = []
    try:
        while True:
            frames.append(json.loads(connection.recv(timeout=wait)))
    except TimeoutError:
        return frames


@dataclass
class Arena:
    proc: subprocess.Popen
    port: int
    witness: ClientConnection
    seed_witness: ClientConnection
    alice: ClientConnection
    fuzzer: ClientConnection | None = None
    frames: int = 0
    rounds: int = 0
    rss_kib: list[int] = field(default_factory=list)

    def fuzz(self, frame: str | bytes) -> None:
        """Send one frame; after a close (1009 for a frame over 64 KiB) go on on a new connection."""
        for _ in range(2):
            if self.fuzzer is None:
                self.fuzzer = _client(self.port)
            try:
                self.fuzzer.send(frame)
                break
            except ConnectionClosed:
                assert self.fuzzer.close_code in (1009, None), self.fuzzer.close_code
                self.fuzzer = None
        self.frames += 1

    def check(self) -> None:
        """The server is alive, small, talks normally, and relayed nothing malformed."""
        assert self.proc.poll() is None, self.proc.communicate()
        if self.fuzzer is not None:  # read the fuzzer's replies, so it never falls behind
            try:
                for reply in _drain(self.fuzzer):
                    assert reply.get("type") in {"welcome", "history", "chat", "system", "members",
                                                 "typing", "error", "pong"}, reply
            except ConnectionClosed:
                self.fuzzer = None
        self.rounds += 1
        marker = f"calm {self.rounds}"
        self.alice.send(json.dumps({"type": "chat", "content": marker, "nonce": marker}))
        started = time.monotonic()
        while True:
            frame = json.loads(self.witness.recv(timeout=5))
            assert well_formed_v2(frame), frame
            if frame.get("content") == marker:
                break
        assert time.monotonic() - started < 2.0
        while True:
            frame = json.loads(self.seed_witness.recv(timeout=5))
            assert well_formed_v1(frame), frame
            if frame.get("content") == marker:
                break
        while json.loads(self.alice.recv(timeout=5)).get("nonce") != marker:
            pass  # presence and the fuzzer's chats come first
        rss = _rss_kib(self.proc.pid)
        self.rss_kib.append(rss)
        assert rss < RSS_LIMIT_KIB, f"server RSS {rss} KiB"


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))



def _join(connection: ClientConnection, name: str) -> None:
    connection.send(json.dumps({"type": "join", "userId": name, "room": ROOM}))
    time.sleep(0.05)
    _drain(connection, 0.1)


@pytest.fixture(scope="module")
def arena(tmp_path_factory) -> Iterator[Arena]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir",
         str(data_dir), "--rate-limit", "0", "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_listening(port, proc)
        arena = Arena(proc, port, _client(port), _client(port, v2=False), _client(port))
        _join(arena.seed_witness, "seed-witness")
        _join(arena.witness, "witness")
        _join(arena.alice, "alice")
        _drain(arena.witness, 0.1)
        _drain(arena.seed_witness, 0.1)
        arena.check()
        yield arena
        print(f"\nfuzz: {arena.frames} frames in {arena.rounds} rounds, server RSS "
              f"{min(arena.rss_kib)}-{max(arena.rss_kib)} KiB")
        for connection in (arena.witness, arena.seed_witness, arena.alice, arena.fuzzer):
            if connection is not None:
                connection.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# Frames a client may throw ---------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
_huge_text = st.integers(0, 80_000).map(lambda n: "x" * n)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**400), 10**400) | st.floats() | _text | _huge_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)
_fields = ["userId", "room", "content", "nonce", "to", "since", "resume", "key", "active"]
_typed_messages = st.builds(
    lambda kind, extra: {"type": kind, **extra},
    st.sampled_from(["join", "chat", "typing", "leave", "ping", "pong", "welcome", "history", "", "CHAT"])
    | _json_values,
    st.dictionaries(st.sampled_from(_fields), _json_values | _text, max_size=5),
)
_plausible = st.fixed_dictionaries(
    {"type": st.just("chat"), "content": _text.filter(str.strip) | _huge_text},
    optional={"to": _text | st.sampled_from(["witness", "WITNESS", "alice", "seed-witness"]), "nonce": _text},
)
_joins = st.builds(
    lambda name, room: {"type": "join", "userId": name, "room": room},
    _text | st.sampled_from(["witness", "Alice", "fuzzer", " x ", "a" * 33]),
    st.just(ROOM) | _text,
)
_frame_texts = st.one_of(
    _typed_messages.map(lambda m: json.dumps(m)),
    _plausible.map(json.dumps),
    _joins.map(json.dumps),
    st.just(json.dumps({"type": "leave"})),
    _json_values.map(lambda v: json.dumps(v)),
    _text,
    st.integers(1, 40_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 20_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
)
frames = st.lists(st.one_of(_frame_texts, st.binary(max_size=200)), min_size=1, max_size=25)


@FUZZ
@given(batch=frames)
def test_generated_frames_never_hurt_the_room(arena, batch):
    arena.fuzz(json.dumps({"type": "join", "userId": "fuzzer", "room": ROOM}))
    for frame in batch:
        arena.fuzz(frame)
    arena.check()


@settings(FUZZ, max_examples=150)
@given(joins=st.lists(st.one_of(_joins, st.just({"type": "leave"}), st.just({"type": "typing"})), min_size=5, max_size=60))
def test_rapid_join_and_leave_on_one_connection(arena, joins):
    for message in joins:
        arena.fuzz(json.dumps(message))
    arena.check()


# Below the JSON: raw websocket frames ------------------------------------------------------------

CLOSE_CODES_FOR_BAD_FRAMES = {1002, 1007, 1009}




def _close_code(sock: socket.socket, wait: float) -> int | None:
    """Read what the server sends until it closes or ``wait`` passes; its close code or None."""
    sock.settimeout(wait)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    while len(data) >= 2:
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        offset = 2
        if length == 126:
            length, offset = struct.unpack("!H", data[2:4])[0], 4
        elif length == 127:
            length, offset = struct.unpack("!Q", data[2:10])[0], 10
        if opcode == 0x8:
            return struct.unpack("!H", data[offset : offset + 2])[0]
        data = data[offset + length :]
    return None


_invalid_utf8 = st.binary(min_size=1, max_size=300).filter(lambda b: not _decodes(b))


def _decodes(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


@settings(FUZZ, max_examples=100)
@given(payload=_invalid_utf8, split=st.integers(0, 300), fragmented=st.booleans())
def test_invalid_utf8_closes_with_1007(arena, payload, split, fragmented):
    sock = raw_websocket(arena.port)
    if fragmented:  # a text message in two pieces whose bytes only fail together or in one piece
        cut = split % (len(payload) + 1)
        sock.sendall(client_frame(0x1, payload[:cut], fin=False) + client_frame(0x0, payload[cut:]))
    else:
        sock.sendall(client_frame(0x1, payload))
    arena.frames += 1
    assert _close_code(sock, 3) == 1007
    sock.close()
    arena.check()


_raw_frame = st.one_of(
    st.builds(lambda p, fin: client_frame(0x1, json.dumps({"type": "ping", "pad": p}).encode(), fin=fin), _text, st.booleans()),
    st.builds(lambda p, fin: client_frame(0x0, p, fin=fin), st.binary(max_size=100), st.booleans()),  # continuation
    st.builds(lambda p: client_frame(0x2, p), st.binary(max_size=100)),
    st.builds(lambda p: client_frame(0x9, p), st.binary(max_size=125)),  # ping
    st.builds(lambda p: client_frame(0xA, p), st.binary(max_size=125)),  # unsolicited pong
    st.builds(lambda p: client_frame(0x9, p), st.binary(min_size=126, max_size=200)),  # control frame too long
    st.builds(lambda p: client_frame(0x9, p, fin=False), st.binary(max_size=10)),  # fragmented control frame
    st.builds(lambda op, p: client_frame(op, p), st.sampled_from([0x3, 0x4, 0x5, 0xB, 0xF]), st.binary(max_size=20)),
    st.builds(lambda r, p: client_frame(0x1, p, rsv=r), st.integers(1, 7), st.just(b'{"type":"ping"}')),
    st.builds(lambda p: client_frame(0x1, p, masked=False), st.just(b'{"type":"ping"}')),
    st.builds(lambda n: client_frame(0x1, b"", claimed_length=n), st.integers(64 * 1024 + 1, 2**40)),
)


@settings(FUZZ, max_examples=300)
@given(sequence=st.lists(_raw_frame, min_size=1, max_size=8))
def test_raw_frames_close_cleanly_or_are_served(arena, sequence):
    sock = raw_websocket(arena.port)
    try:
        sock.sendall(b"".join(sequence))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server already closed after an earlier frame
    arena.frames += len(sequence)
    code = _close_code(sock, 0.3)
    assert code is None or code in CLOSE_CODES_FOR_BAD_FRAMES, code
    sock.close()
    arena.check()


FLOOD_BURST = 60
"""Messages the flooder fires between two of alice's (the room's readers must take them all)."""


def test_a_flooding_member_does_not_starve_the_others(arena):
    """One connection sends as fast as it can; another member's messages still arrive at once."""
    flooder = _client(arena.port)
    _join(flooder, "flooder")
    payload = json.dumps({"type": "chat", "content": "f" * 1000})
    latencies = []
    start = time.monotonic()
    for round_ in range(20):
        for _ in range(FLOOD_BURST):
            flooder.send(payload)
        arena.frames += FLOOD_BURST
        sent = time.monotonic()
        marker = f"urgent {round_}"
        arena.alice.send(json.dumps({"type": "chat", "content": marker, "nonce": marker}))
        while True:  # alice's own acknowledgement: behind the flood, but not starved
            frame = json.loads(arena.alice.recv(timeout=5))
            if frame.get("nonce") == marker:
                latencies.append(time.monotonic() - sent)
                break
        _drain(flooder)
    flood_time = time.monotonic() - start
    flooder.close()
    _drain(arena.witness, 0.2)  # the witnesses read the whole flood (about 1 ms a frame)
    _drain(arena.seed_witness, 0.2)
    arena.check()
    latencies.sort()
    print(f"\nflood: {20 * FLOOD_BURST} x 1 KB in {flood_time:.2f}s; other member's ack latency "
          f"median {latencies[10] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    assert latencies[10] < 0.25 and latencies[-1] < 2.0


def test_joins_have_their_own_small_budget(tmp_path):
    """A connection that joins in a loop gets 5 joins at once, then 1 a second; the room barely notices."""
    thread = ServerThread(make_config(tmp_path, rate_limit=0))
    thread.start()
    try:
        member, hopper, seed = _client(thread.port), _client(thread.port), _client(thread.port, v2=False)
        _join(member, "member")
        for i in range(30):
            hopper.send(json.dumps({"type": "join", "userId": "hopper", "room": ("a", ROOM)[i % 2]}))
        time.sleep(0.3)
        replies = _drain(hopper, 0.2)
        welcomes = [f for f in replies if f["type"] == "welcome"]
        refusals = [f for f in replies if f["type"] == "error"]
        assert len(welcomes) == 5 and len(refusals) == 25, replies
        assert {f["code"] for f in refusals} == {"rate_limited"}
        notices = [f for f in _drain(member, 0.2) if f["type"] == "system"]
        assert len(notices) <= 5  # joins and leaves of the 5 accepted joins only
        for i in range(8):
            seed.send(json.dumps({"type": "join", "userId": "seed", "room": f"room {i}"}))
        assert len(_drain(seed, 0.3)) == 5  # the seed's welcome notices; the rest is silence
        time.sleep(1.1)  # the budget refills at one join a second
        hopper.send(json.dumps({"type": "join", "userId": "hopper", "room": "a"}))
        assert json.loads(hopper.recv(timeout=5))["type"] == "welcome"
        for connection in (member, hopper, seed):
            connection.close()
    finally:
        thread.stop()


def test_resume_from_zero_by_many_non_readers_stays_within_memory(tmp_path):
    from server.protocol import ChatRecord
    from server.store import HistoryStore

    store = HistoryStore(tmp_path / "history.sqlite3", retention=0)
    store.append_batch([ChatRecord(i + 1, ROOM, "writer", "x" * 3990, 0) for i in range(3000)])
    store.close()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir",
         str(tmp_path), "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    sockets, peak = [], 0
    try:
        wait_listening(port, proc)
        for i in range(25):  # 25 connections that ask for everything and never read (12 MB each)
            sock = raw_websocket(port)
            sock.sendall(client_frame(0x1, json.dumps({"type": "join", "userId": f"r{i}", "room": ROOM, "since": 0}).encode()))
            sockets.append(sock)
            peak = max(peak, _rss_kib(proc.pid))
        for _ in range(10):
            time.sleep(0.1)
            peak = max(peak, _rss_kib(proc.pid))
    finally:
        for sock in sockets:
            sock.close()
        proc.terminate()
        proc.wait(10)
    assert peak < RSS_LIMIT_KIB, f"server RSS peaked at {peak} KiB"
