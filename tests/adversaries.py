"""Adversarial clients for the stall harness (tests/test_stall.py), and the watcher that times them.

Each adversary is a function that does its worst against a real server on 127.0.0.1 and
returns what the server answered in the end (a close code, an error code, a pong...). The
harness runs each one while :class:`RoundTrips` measures another client's ping round trip;
the worst round trip must stay under 50 ms whatever the adversary sends.

To add an input (the file-upload and search paths, say), write a function here and decorate it:

    @adversary("search for a 4000-character pattern", expect="error search_too_long")
    def huge_search(port: int) -> str:
        sock = joined(port, "searcher")
        sock.sendall(client_frame(OP_TEXT, json.dumps({...}).encode()))
        return reply_code(sock)

The harness picks it up by itself (it is parametrized over ``ADVERSARIES``).
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from conftest import client_frame, raw_websocket

from server.protocol import SUBPROTOCOL
from server.transport import MAX_FRAGMENTS

__all__ = ["ADVERSARIES", "Adversary", "RoundTrips", "adversary", "joined", "close_code", "reply_code"]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 64 * 1024
"""The server's default message limit (ServerConfig.max_frame)."""


@dataclass(frozen=True)
class Adversary:
    name: str
    attack: Callable[[int], str]
    """Given the server's port, attack, and return what the server answered."""
    expect: str
    """That answer when the server does its job (the attack was refused or served)."""


ADVERSARIES: list[Adversary] = []


def adversary(name: str, *, expect: str) -> Callable[[Callable[[int], str]], Callable[[int], str]]:
    """Register an attack for the stall harness."""

    def register(attack: Callable[[int], str]) -> Callable[[int], str]:
        ADVERSARIES.append(Adversary(name, attack, expect))
        return attack

    return register


# Reading what the server answers ---------------------------------------------------------------


def _read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    """One unmasked server frame (opcode, payload), or None at end of stream."""
    head = _read_exactly(sock, 2)
    if head is None:
        return None
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", _read_exactly(sock, 2) or b"\0\0")[0]
    elif length == 127:
        length = struct.unpack("!Q", _read_exactly(sock, 8) or bytes(8))[0]
    payload = _read_exactly(sock, length) if length else b""
    return (head[0] & 0x0F, payload or b"")


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except (ConnectionResetError, TimeoutError):
            return None
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def close_code(sock: socket.socket, timeout: float = 10.0) -> str:
    """Read until the server's close frame: 'closed CODE' (or 'no close')."""
    sock.settimeout(timeout)
    try:
        while (frame := _read_frame(sock)) is not None:
            opcode, payload = frame
            if opcode == OP_CLOSE:
                return f"closed {struct.unpack('!H', payload[:2])[0]}"
        return "no close"
    finally:
        sock.close()


def reply_code(sock: socket.socket, timeout: float = 10.0, *, skip: tuple[str, ...] = ()) -> str:
    """The first text frame's type (and its error code): 'pong', 'error bad_json', ..."""
    sock.settimeout(timeout)
    try:
        while (frame := _read_frame(sock)) is not None:
            opcode, payload = frame
            if opcode == OP_CLOSE:
                return f"closed {struct.unpack('!H', payload[:2])[0]}"
            if opcode == OP_TEXT:
                message = json.loads(payload)
                kind = message.get("type")
                if kind in skip:
                    continue
                return f"{kind} {message['code']}" if kind == "error" else kind
        return "no reply"
    finally:
        sock.close()


def joined(port: int, name: str, room: str = "stall") -> socket.socket:
    """A raw v2 websocket that has joined ``room``; its welcome and every history page are read
    (a ping after the join: its pong comes after the last page)."""
    sock = raw_websocket(port, timeout=10)
    sock.sendall(client_frame(OP_TEXT, json.dumps({"type": "join", "userId": name, "room": room}).encode())
                 + client_frame(OP_TEXT, b'{"type":"ping"}'))
    while True:
        frame = _read_frame(sock)
        assert frame is not None, "closed before the welcome"
        if frame[0] == OP_TEXT and json.loads(frame[1]).get("type") == "pong":
            return sock


def _padded_ping(size: int) -> bytes:
    """An application ping of exactly ``size`` bytes (padded with JSON whitespace)."""
    return b'{"type":"ping"' + b" " * (size - 16) + b"}"


# The watcher -----------------------------------------------------------------------------------


class RoundTrips:
    """A second client, in its own process, that pings the server every ``interval``.

    WebSocket pings are answered inside the server's ``data_received``, so a round trip is
    the time the event loop took to get to this connection: a stall shows up in full. The
    watcher has a process of its own so that the adversary's work (building frames) never
    holds the lock the watcher's thread would need to read its pong.

    Given the server's ``pid``, each sample also reads the scheduler's account of the server's
    event-loop thread and of the watcher's own thread (/proc/.../schedstat: time on a CPU,
    time runnable but waiting for one). A ``stall`` is the round trip less the time either
    thread only waited for a CPU, so a busy shared machine's preemptions are not counted as
    the server's, while everything the loop itself did or blocked on (work, a synchronous
    write, another thread holding the GIL) is. On a quiet machine (CI) it is the round trip.
    """

    def __init__(self, port: int, interval: float = 0.005, *, pid: int = 0) -> None:
        self.port = port
        self.interval = interval
        self.pid = pid
        self.samples: list[float] = []
        self.stalls: list[float] = []
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> RoundTrips:
        self._process = subprocess.Popen(
            [sys.executable, __file__, str(self.port), str(self.interval), str(self.pid)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent,
        )
        assert self._process.stdout.readline() == "ready\n", "the watcher did not connect"
        return self

    def __exit__(self, *exc_info) -> None:
        assert self._process is not None
        out, _ = self._process.communicate("stop\n", timeout=30)
        report = json.loads(out)
        self.samples = report["samples"]
        self.stalls = report["stalls"]
        if exc_info[0] is None:
            assert report["error"] is None, f"the watcher failed: {report['error']}"

    @property
    def worst(self) -> float:
        return max(self.samples)

    @property
    def worst_stall(self) -> float:
        return max(self.stalls)


def _schedstat(path: str) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of a thread; (0, 0) if unknown."""
    try:
        with open(path) as stat:
            on_cpu, waiting = stat.read().split()[:2]
            return int(on_cpu) / 1e9, int(waiting) / 1e9
    except (OSError, ValueError):
        return 0.0, 0.0


def _stall(round_trip: float, server: tuple[float, float], watcher: tuple[float, float]) -> float:
    """The part of ``round_trip`` the server is to blame for, from the two threads' schedstat
    differences over it: all of it but the waits for a CPU, never less than the loop's own CPU time."""
    return min(round_trip, max(server[0], round_trip - server[1] - watcher[1]))


def _watch(port: int, interval: float, pid: int) -> None:
    """The watcher process: ping until told to stop on stdin, then print the round trips."""
    sock = raw_websocket(port, timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    samples: list[float] = []
    stalls: list[float] = []
    server_stat = f"/proc/{pid}/task/{pid}/schedstat" if pid else ""  # its main thread: the loop
    own_stat = f"/proc/self/task/{threading.get_native_id()}/schedstat"
    error = None
    count = 0
    try:
        while not stop.is_set():
            count += 1
            token = struct.pack("!Q", count)
            server, watcher = _schedstat(server_stat), _schedstat(own_stat)
            started = time.perf_counter()
            sock.sendall(client_frame(OP_PING, token))
            while (frame := _read_frame(sock)) is not None:
                if frame == (OP_PONG, token):
                    break
            else:
                raise ConnectionError("the server closed the watcher's connection")
            samples.append(time.perf_counter() - started)
            server_after, watcher_after = _schedstat(server_stat), _schedstat(own_stat)
            stalls.append(_stall(samples[-1], (server_after[0] - server[0], server_after[1] - server[1]),
                                 (watcher_after[0] - watcher[0], watcher_after[1] - watcher[1])))
            stop.wait(interval)
    except Exception as exc:  # reported to the test
        error = repr(exc)
    sock.close()
    print(json.dumps({"samples": samples, "stalls": stalls, "error": error}))


# Framing ---------------------------------------------------------------------------------------


@adversary("a 65,000-byte message in 1-byte fragments", expect="closed 1009")
def tiny_fragments(port: int) -> str:
    message = _padded_ping(65_000)
    sock = raw_websocket(port, timeout=10)
    wire = [client_frame(OP_TEXT, message[:1], fin=False)]
    wire += [client_frame(OP_CONT, message[i : i + 1], fin=False) for i in range(1, len(message) - 1)]
    wire.append(client_frame(OP_CONT, message[-1:]))
    _send_ignoring_refusal(sock, b"".join(wire))
    return close_code(sock)


@adversary(f"a message in {MAX_FRAGMENTS} fragments (the most allowed)", expect="pong")
def most_fragments(port: int) -> str:
    message = _padded_ping(MAX_FRAGMENTS)
    sock = raw_websocket(port, timeout=10)
    wire = [client_frame(OP_TEXT, message[:1], fin=False)]
    wire += [client_frame(OP_CONT, message[i : i + 1], fin=False) for i in range(1, len(message) - 1)]
    wire.append(client_frame(OP_CONT, message[-1:]))
    sock.sendall(b"".join(wire))
    return reply_code(sock)


@adversary("100,000 empty continuation frames", expect="closed 1009")
def empty_continuations(port: int) -> str:
    sock = raw_websocket(port, timeout=10)
    empty = client_frame(OP_CONT, b"", fin=False)
    _send_ignoring_refusal(sock, client_frame(OP_TEXT, b"{", fin=False) + empty * 100_000)
    return close_code(sock)


@adversary("a maximal frame in 1-byte TCP writes", expect="pong")
def trickled_frame(port: int) -> str:
    sock = raw_websocket(port, timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    wire = client_frame(OP_TEXT, _padded_ping(MAX_MESSAGE))
    for i in range(len(wire)):
        sock.send(wire[i : i + 1])
    return reply_code(sock)


@adversary("300 maximal frames at once", expect="pong")
def many_maximal_frames(port: int) -> str:
    sock = raw_websocket(port, timeout=10)
    sock.sendall(client_frame(OP_TEXT, _padded_ping(MAX_MESSAGE)) * 300)
    return reply_code(sock)


@adversary("256 KiB of pings, never reading the pongs", expect="pong")
def ping_flood(port: int) -> str:
    sock = raw_websocket(port, timeout=10)
    sock.sendall(client_frame(OP_PING, b"") * (256 * 1024 // 6))
    sock.sendall(client_frame(OP_TEXT, _padded_ping(16)))
    return reply_code(sock)


@adversary("100,000 empty text frames", expect="error bad_json")
def empty_messages(port: int) -> str:
    sock = raw_websocket(port, timeout=10)
    _send_ignoring_refusal(sock, client_frame(OP_TEXT, b"") * 100_000)
    return reply_code(sock)


def _send_ignoring_refusal(sock: socket.socket, wire: bytes) -> None:
    """Send it all; a server that refused early and hung up may reset the rest."""
    try:
        sock.sendall(wire)
    except (BrokenPipeError, ConnectionResetError):
        pass


# The opening handshake -------------------------------------------------------------------------


@adversary("a 16,000-byte handshake trickled byte by byte", expect="101")
def trickled_handshake(port: int) -> str:
    headers = "".join(f"X-Padding-{i}: {'p' * 7900}\r\n" for i in range(2))
    request = (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n{headers}\r\n"
    ).encode()
    assert 15_000 < len(request) < 16 * 1024
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(request)):
        sock.send(request[i : i + 1])
    status = (_read_exactly(sock, 12) or b"").decode()
    sock.close()
    return status[9:12]


# What the messages say -------------------------------------------------------------------------


@adversary("deeply nested JSON at the size limit", expect="error bad_json")
def nested_json(port: int) -> str:
    depth = (MAX_MESSAGE - 40) // 2
    frame = ('{"type":"chat","content":"x","x":' + "[" * depth + "]" * depth + "}").encode()
    assert len(frame) <= MAX_MESSAGE
    sock = raw_websocket(port, timeout=10)
    sock.sendall(client_frame(OP_TEXT, frame))
    return reply_code(sock)


@adversary("deeply nested objects at the size limit", expect="error bad_json")
def nested_objects(port: int) -> str:
    depth = (MAX_MESSAGE - 10) // 6
    frame = ('{"a":' * depth + "1" + "}" * depth).encode()
    sock = raw_websocket(port, timeout=10)
    sock.sendall(client_frame(OP_TEXT, frame))
    return reply_code(sock)


@adversary("40 messages of 4000 combining marks to a room", expect="chat")
def combining_marks(port: int) -> str:
    listener = joined(port, "listener")
    sender = joined(port, "zalgo")
    content = "a" + "".join(chr(0x300 + i % 0x70) for i in range(3999))  # U+0300-U+036F
    frame = client_frame(OP_TEXT, json.dumps({"type": "chat", "content": content}, ensure_ascii=False).encode())
    sender.sendall(frame * 40)
    answer = reply_code(listener, skip=("system", "members", "typing"))
    sender.close()
    return answer


@adversary("joins under names of zero-width and right-to-left override characters", expect="error bad_name")
def invisible_names(port: int) -> str:
    sock = raw_websocket(port, timeout=10)
    names = ["\u200b\u200c\u200d", "\u202eevil", "\u2066\u2067\u2068", "a\u200fb", "\ufeff" * 32]
    sock.sendall(b"".join(
        client_frame(OP_TEXT, json.dumps({"type": "join", "userId": n, "room": "stall"}).encode()) for n in names
    ))
    return reply_code(sock)


# Search ----------------------------------------------------------------------------------------


def _search_frame(query: str, nonce: str = "s") -> bytes:
    return client_frame(OP_TEXT, json.dumps({"type": "search", "query": query, "nonce": nonce},
                                            ensure_ascii=False).encode())


@adversary("a search for a 20,000-character pattern (60 KB)", expect="error too_long")
def huge_search(port: int) -> str:
    sock = joined(port, "searcher")
    sock.sendall(_search_frame("北京" * 10_000))
    return reply_code(sock, skip=("system", "members"))


@adversary("40 searches at once, each of 8 FTS-operator words", expect="results")
def search_flood(port: int) -> str:
    """The room has had pathological messages; every query is FTS5 syntax that must stay literal."""
    talker = joined(port, "talker")
    words = ['"*"', "NEAR(a", "OR", "AND*", "^北", "京*", '"""', "a:b"]
    talker.sendall(b"".join(
        client_frame(OP_TEXT, json.dumps({"type": "chat", "content": " ".join(words) * 40}).encode())
        for _ in range(30)
    ))
    sock = joined(port, "searcher")
    sock.sendall(b"".join(_search_frame(" ".join(words), nonce=str(i)) for i in range(40)))
    answer = reply_code(sock, skip=("system", "members", "chat", "error"))  # rate_limited meanwhile
    talker.close()
    return answer



# Shared files ----------------------------------------------------------------------------------


def _text_frames(sock: socket.socket) -> Iterator[dict]:
    while (frame := _read_frame(sock)) is not None:
        if frame[0] == OP_CLOSE:
            return
        if frame[0] == OP_TEXT:
            yield json.loads(frame[1])


def _zero_masked(opcode: int, payload: bytes) -> bytes:
    """A client frame masked with 0000 (valid, and free to make): the attacker spends no CPU
    on masking, so all the work the upload costs is the server's."""
    length = len(payload)
    if length < 126:
        head = bytes((0x80 | opcode, 0x80 | length))
    elif length < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + struct.pack("!H", length)
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + struct.pack("!Q", length)
    return head + b"\0\0\0\0" + payload


@adversary("a 64 MiB upload as fast as its credit window allows", expect="chat")
def fast_upload(port: int) -> str:
    size = 64 * 1024 * 1024
    sock = joined(port, "uploader")
    sock.sendall(client_frame(OP_TEXT, json.dumps(
        {"type": "file_offer", "name": "fast.bin", "size": size, "nonce": "up"}).encode()))
    frames = _text_frames(sock)
    accept = next(f for f in frames if f.get("type") in ("file_accept", "error"))
    if accept["type"] == "error":
        return f"error {accept['code']}"
    chunk = bytes(accept["chunk"])
    head = accept["handle"].to_bytes(4, "big")
    sent = acked = 0
    while sent < size:
        if sent + len(chunk) - acked > accept["window"]:
            frame = next(frames)
            if frame.get("type") == "file_ack":
                acked = frame["offset"]
            continue
        piece = chunk[: min(len(chunk), size - sent)]
        sock.sendall(_zero_masked(OP_BINARY, head + piece))
        sent += len(piece)
    answer = next(f.get("type") for f in frames if f.get("type") in ("chat", "error") and f.get("nonce") == "up")
    sock.close()
    return answer


@adversary("2,000 binary frames for an upload that was never offered", expect="error bad_message")
def stray_chunks(port: int) -> str:
    sock = joined(port, "stray")
    _send_ignoring_refusal(sock, client_frame(OP_BINARY, b"\x00\x00\x00\x07" + bytes(30_000)) * 2000)
    return reply_code(sock, skip=("system", "members"))

if __name__ == "__main__":
    _watch(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]))
