"""The own WebSocket transport's framing rules and timeouts, on a real server over loopback.

How long the server takes over hostile input is measured by tests/test_stall.py; here are
the rules themselves: fragment limits, pings after the server's close, one ping per silence,
close reasons that stay valid UTF-8.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from adversaries import close_code, reply_code
from conftest import client_frame, make_config, raw_websocket
from websockets.frames import Close

from server.thread import ServerThread
from server.transport import MAX_CLOSE_REASON, MAX_FRAGMENTS, _close_frame

OP_CONT, OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x8, 0x9, 0xA


def _fragmented(message: bytes, pieces: int) -> bytes:
    """``message`` as ``pieces`` frames: 1-byte fragments, the last one holding the rest."""
    wire = [client_frame(OP_TEXT, message[:1], fin=False)]
    wire += [client_frame(OP_CONT, message[i : i + 1], fin=False) for i in range(1, pieces - 1)]
    wire.append(client_frame(OP_CONT, message[pieces - 1 :]))
    return b"".join(wire)


PING = b'{"type":"ping"' + b" " * 5000 + b"}"


def test_a_message_in_the_most_fragments_allowed_is_served(server_thread):
    sock = raw_websocket(server_thread.port)
    sock.sendall(_fragmented(PING, MAX_FRAGMENTS))
    assert reply_code(sock) == "pong"


def test_one_fragment_more_is_refused_with_1009(server_thread):
    sock = raw_websocket(server_thread.port)
    sock.sendall(_fragmented(PING, MAX_FRAGMENTS + 1))
    assert close_code(sock) == "closed 1009"


def test_endless_empty_continuations_are_refused_with_1009(server_thread):
    """Empty fragments carry no bytes, but they are frames: an endless stream of them ends."""
    sock = raw_websocket(server_thread.port)
    sock.sendall(client_frame(OP_TEXT, b"{", fin=False))
    empty = client_frame(OP_CONT, b"", fin=False)
    try:
        for _ in range(100):  # 600 KB in all, far past the limit
            sock.sendall(empty * 1000)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused and hung up early: the close frame is already in our receive buffer
    data = b""
    sock.settimeout(5)
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert data[:1] == b"\x88", data[:20]
    assert struct.unpack("!H", data[2:4])[0] == 1009
    assert f"over {MAX_FRAGMENTS} fragments".encode() in data


def _frames_until_close(sock: socket.socket, on_close=None) -> list[tuple[int, bytes]]:
    """Every frame the server sends up to and including its close frame."""
    frames = []
    buffer = b""
    while True:
        chunk = sock.recv(65536)
        assert chunk, f"the connection ended before a close frame: {frames}"
        buffer += chunk
        while len(buffer) >= 2 and len(buffer) >= 2 + (buffer[1] & 0x7F):
            length = buffer[1] & 0x7F
            frames.append((buffer[0] & 0x0F, buffer[2 : 2 + length]))
            buffer = buffer[2 + length :]
            if frames[-1][0] == OP_CLOSE:
                return frames


def test_a_ping_after_the_servers_close_is_answered(tmp_path):
    """RFC 6455 5.5.2: a pong is owed until the peer's Close has been received, not sent."""
    thread = ServerThread(make_config(tmp_path))
    thread.start()
    sock = raw_websocket(thread.port)
    stopping = threading.Thread(target=thread.stop)
    stopping.start()  # the server sends Close 1001 and waits for ours
    try:
        frames = _frames_until_close(sock)
        assert struct.unpack("!H", frames[-1][1][:2])[0] == 1001
        sock.sendall(client_frame(OP_PING, b"still there?"))
        sock.settimeout(3)
        assert sock.recv(64) == b"\x8a\x0cstill there?"
        sock.sendall(client_frame(OP_CLOSE, struct.pack("!H", 1000)))
        assert sock.recv(64) == b""  # and then the server ends the connection
    finally:
        sock.close()
        stopping.join(10)


def test_a_quiet_peer_gets_one_ping_not_one_per_sweep(tmp_path):
    """Silent for the whole ping timeout (6 sweeps of 0.15 s): one ping, then the drop."""
    thread = ServerThread(make_config(tmp_path, ping_interval=0.3, ping_timeout=0.9))
    thread.start()
    try:
        sock = raw_websocket(thread.port, timeout=5)
        started = time.monotonic()
        frames = _frames_until_close(sock)
        waited = time.monotonic() - started
        sock.close()
    finally:
        thread.stop()
    assert [opcode for opcode, _ in frames] == [OP_PING, OP_CLOSE]
    assert struct.unpack("!H", frames[-1][1][:2])[0] == 1011
    assert 1.1 < waited < 3


def test_a_peer_that_answers_each_ping_gets_the_next_one_after_another_silence(tmp_path):
    thread = ServerThread(make_config(tmp_path, ping_interval=0.3, ping_timeout=0.9))
    thread.start()
    try:
        sock = raw_websocket(thread.port, timeout=5)
        pings = []
        for _ in range(3):
            head = sock.recv(2)
            assert head[0] & 0x0F == OP_PING, head
            pings.append(time.monotonic())
            sock.sendall(client_frame(OP_PONG, b""))
        sock.close()
    finally:
        thread.stop()
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert all(0.29 < gap < 0.8 for gap in gaps), gaps


@pytest.mark.parametrize("character", ["é", "中", "😀"])
@pytest.mark.parametrize("prefix", range(4))
def test_close_reasons_are_cut_between_characters(character, prefix):
    """A reason cut inside a character would be invalid UTF-8: the peer must fail with 1007."""
    reason = "x" * prefix + character * 80
    payload = _close_frame(1008, reason)[2:]
    close = Close.parse(payload)  # raises on invalid UTF-8
    assert close.code == 1008
    assert reason.startswith(close.reason)
    assert MAX_CLOSE_REASON - len(character.encode()) < len(close.reason.encode()) <= MAX_CLOSE_REASON
