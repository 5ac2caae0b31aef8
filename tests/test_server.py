"""The chat server over real loopback websockets, with a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ChatPeer, client_frame, free_port, make_config, raw_websocket, run, wait_listening
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.thread import ServerThread

# v2 -------------------------------------------------------------------------


def test_v2_join_gets_welcome_history_and_own_ack(server_thread):
    async def scenario():
        alice = await ChatPeer.open(server_thread.url)
        welcome = await alice.join("alice", "room-1")
        assert welcome["type"] == "welcome"
        assert welcome["members"] == ["alice"] and welcome["online"] == 1
        assert welcome["lastId"] == 0 and len(welcome["resume"]) >= 16
        assert (await alice.recv()) == {"type": "history", "messages": []}
        await alice.send(type="chat", content="hello", nonce="n1")
        ack = await alice.expect("chat")
        assert ack["nonce"] == "n1" and ack["id"] == 1 and ack["from"] == "alice"
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        history = await bob.expect("history")
        assert [m["content"] for m in history["messages"]] == ["hello"]
        assert "nonce" not in history["messages"][0]  # nonces are the sender's business
        assert (await alice.expect("system"))["event"] == "join"
        assert (await alice.expect("members"))["members"] == ["alice", "bob"]
        await bob.send(type="chat", content="hi alice")
        got = await alice.expect("chat")
        assert got["from"] == "bob" and got["id"] == 2 and "nonce" not in got
        # Alice, resuming, finds her own message by its nonce (so she never sends it twice).
        again = await ChatPeer.open(server_thread.url)
        await again.join("alice", "room-1", since=0, resume=welcome["resume"])
        resumed = (await again.expect("history"))["messages"]
        assert [(m["id"], m.get("nonce")) for m in resumed] == [(1, "n1"), (2, None)]

    run(scenario())


def test_ids_increase_per_room_and_rooms_are_isolated(server_thread):
    async def scenario():
        peers = {}
        for name, room, v2 in [("a1", "A", True), ("a2", "A", False), ("b1", "B", True), ("b2", "B", False)]:
            peers[name] = await ChatPeer.open(server_thread.url, v2=v2)
            await peers[name].join(name, room)
        for peer in peers.values():
            await peer.nothing(0.2)
        for i in range(3):
            await peers["a1"].send(type="chat", content=f"A{i}", nonce=str(i))
            await peers["b1"].send(type="chat", content=f"B{i}", nonce=str(i))
        acks_a = [(await peers["a1"].expect("chat"))["id"] for _ in range(3)]
        acks_b = [(await peers["b1"].expect("chat"))["id"] for _ in range(3)]
        assert acks_a == [1, 2, 3] and acks_b == [1, 2, 3]
        seen_a2 = [(await peers["a2"].expect("chat"))["content"] for _ in range(3)]
        seen_b2 = [(await peers["b2"].expect("chat"))["content"] for _ in range(3)]
        assert seen_a2 == ["A0", "A1", "A2"] and seen_b2 == ["B0", "B1", "B2"]
        assert await peers["a2"].nothing() == [] and await peers["b2"].nothing() == []

    run(scenario())


def test_history_last_50_and_resume_since(unlimited_server):
    server_thread = unlimited_server

    async def scenario():
        alice = await ChatPeer.open(server_thread.url)
        await alice.join("alice", "r")
        for i in range(60):
            await alice.send(type="chat", content=f"m{i}", nonce=str(i))
        for i in range(60):
            await alice.expect("chat", nonce=str(i))
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "r")
        history = (await bob.expect("history"))["messages"]
        assert [m["id"] for m in history] == list(range(11, 61))
        late = await ChatPeer.open(server_thread.url)
        welcome = await late.join("carol", "r", since=55)
        assert welcome["lastId"] == 60
        assert [m["id"] for m in (await late.expect("history"))["messages"]] == [56, 57, 58, 59, 60]

    run(scenario())


def test_resume_with_since_misses_nothing_and_doubles_nothing(unlimited_server):
    server_thread = unlimited_server

    async def scenario():
        talker = await ChatPeer.open(server_thread.url)
        await talker.join("talker", "r")
        listener = await ChatPeer.open(server_thread.url)
        await listener.join("listener", "r")
        await listener.expect("history")
        seen = []
        for round_ in range(3):
            for i in range(10):
                await talker.send(type="chat", content=f"{round_}-{i}")
            seen += [(await listener.expect("chat"))["id"] for _ in range(4)]
            await listener.close()
            for i in range(5):
                await talker.send(type="chat", content=f"{round_}-gap-{i}")
            await asyncio.sleep(0.1)
            listener = await ChatPeer.open(server_thread.url)
            await listener.join("listener", "r", since=seen[-1])
            seen += [m["id"] for m in (await listener.expect("history"))["messages"]]
        seen += [m["id"] for m in await listener.nothing(0.3) if m["type"] == "chat"]
        assert seen == list(range(1, 46))

    run(scenario())


def test_private_messages_reach_only_the_addressee(server_thread):
    async def scenario():
        alice = await ChatPeer.open(server_thread.url)
        secrets = {"alice": (await alice.join("alice", "r"))["resume"]}
        bob = await ChatPeer.open(server_thread.url)
        secrets["bob"] = (await bob.join("bob", "r"))["resume"]
        eve = await ChatPeer.open(server_thread.url)
        await eve.join("eve", "r")
        seed_dan = await ChatPeer.open(server_thread.url, v2=False)
        await seed_dan.join("dan", "r")
        for peer in (alice, bob, eve, seed_dan):
            await peer.nothing(0.2)
        await alice.send(type="chat", content="for bob", nonce="p1", to="BOB")
        ack = await alice.expect("chat", nonce="p1")
        assert ack["to"] == "bob"
        got = await bob.expect("chat")
        assert got["content"] == "for bob" and got["to"] == "bob" and "nonce" not in got
        await alice.send(type="chat", content="for dan", to="dan")
        assert (await seed_dan.expect("chat"))["content"] == "[私信] for dan"
        await alice.send(type="chat", content="nobody", nonce="p3", to="zed")
        error = await alice.expect("error")
        assert error["code"] == "no_such_member" and error["nonce"] == "p3"
        assert [m for m in await eve.nothing() if m["type"] == "chat"] == []
        assert [m for m in await bob.nothing() if m["type"] == "chat"] == []
        # History and resume show private messages to their two names only, and only to
        # the holder of the name's resume secret, not to whoever takes the name later.
        for peer in (alice, bob, eve):
            await peer.close()
        await asyncio.sleep(0.1)
        for name, secret, expected in [
            ("eve2", None, []),
            ("bob", secrets["bob"], ["for bob"]),
            ("alice", secrets["alice"], ["for bob", "for dan"]),
            ("ALICE", None, []),
        ]:
            peer = await ChatPeer.open(server_thread.url)
            welcome = await peer.join(name, "r", since=0, **({"resume": secret} if secret else {}))
            history = (await peer.expect("history"))["messages"]
            assert [m["content"] for m in history] == expected, name
            secrets[name] = welcome["resume"]
            await peer.close()
            await asyncio.sleep(0.05)

    run(scenario())


# v1 (the seed's protocol) ----------------------------------------------------


def test_v1_seed_protocol_is_unchanged(server_thread):
    async def scenario():
        a = await ChatPeer.open(server_thread.url, v2=False)
        assert a.connection.subprotocol is None
        assert await a.join("甲", "room-1") == {"type": "system", "content": "已加入房间「room-1」,当前 1 人在线"}
        b = await ChatPeer.open(server_thread.url, v2=False)
        assert await b.join("乙", "room-1") == {"type": "system", "content": "已加入房间「room-1」,当前 2 人在线"}
        assert await a.recv() == {"type": "system", "content": "用户「乙」加入了房间"}
        await a.send(type="chat", content="你好")
        got = await b.recv()
        assert set(got) == {"type", "from", "content", "timestamp"}
        assert got["from"] == "甲" and got["content"] == "你好"
        assert abs(got["timestamp"] - time.time() * 1000) < 5000
        assert await a.nothing() == []  # no echo in v1
        await a.send(type="ping")
        assert await a.recv() == {"type": "pong"}
        await b.close()
        assert await a.recv() == {"type": "system", "content": "用户「乙」离开了房间"}
        # A late v1 joiner gets history as ordinary chat frames.
        c = await ChatPeer.open(server_thread.url, v2=False)
        await c.join("丙", "room-1")
        replay = await c.recv()
        assert replay["type"] == "chat" and replay["content"] == "你好" and set(replay) == {
            "type", "from", "content", "timestamp"}

    run(scenario())


def test_v1_never_receives_v2_only_types(server_thread):
    async def scenario():
        old = await ChatPeer.open(server_thread.url, v2=False)
        await old.join("old", "r")
        new = await ChatPeer.open(server_thread.url)
        await new.join("new", "r")
        await new.send(type="typing", active=True)
        await new.send(type="chat", content="x", nonce="1")
        await new.send(type="leave")
        frames = await old.nothing(0.5)
        assert {f["type"] for f in frames} <= {"system", "chat", "pong"}
        assert any(f["type"] == "chat" for f in frames)

    run(scenario())


# Names -------------------------------------------------------------------------


def test_name_taken_is_refused_case_insensitively(server_thread):
    async def scenario():
        alice = await ChatPeer.open(server_thread.url)
        await alice.join("Alice", "r")
        impostor = await ChatPeer.open(server_thread.url)
        refused = await impostor.join("  alice ", "r")
        assert refused["type"] == "error" and refused["code"] == "name_taken"
        await impostor.send(type="chat", content="I am alice", nonce="x")
        assert (await impostor.expect("error"))["code"] == "not_joined"
        seed = await ChatPeer.open(server_thread.url, v2=False)
        notice = await seed.join("ALICE", "r")
        assert notice["type"] == "system" and "已被占用" in notice["content"]
        await seed.send(type="chat", content="I am alice too")
        assert [f for f in await alice.nothing() if f["type"] == "chat"] == []
        # The same name in another room is fine.
        elsewhere = await ChatPeer.open(server_thread.url)
        assert (await elsewhere.join("alice", "other"))["type"] == "welcome"

    run(scenario())


def test_resume_secret_takes_over_a_stale_session(server_thread):
    async def scenario():
        first = await ChatPeer.open(server_thread.url)
        welcome = await first.join("alice", "r")
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "r")
        wrong = await ChatPeer.open(server_thread.url)
        assert (await wrong.join("alice", "r", resume="not-the-secret"))["code"] == "name_taken"
        second = await ChatPeer.open(server_thread.url)
        again = await second.join("alice", "r", resume=welcome["resume"])
        assert again["type"] == "welcome" and again["members"] == ["alice", "bob"]
        with pytest.raises(ConnectionClosed):
            while True:
                await first.recv()
        assert first.connection.close_code == 4000
        # Bob saw no leave/join churn for a takeover.
        assert [f for f in await bob.nothing() if f["type"] == "system"] == []
        # The old secret is spent: it cannot take over the new session.
        third = await ChatPeer.open(server_thread.url)
        assert (await third.join("alice", "r", resume=welcome["resume"]))["code"] == "name_taken"

    run(scenario())


@pytest.mark.parametrize(
    ("join", "code"),
    [
        ({"userId": "", "room": "r"}, "bad_name"),
        ({"userId": "   ", "room": "r"}, "bad_name"),
        ({"userId": "x" * 33, "room": "r"}, "bad_name"),
        ({"userId": "a\nb", "room": "r"}, "bad_name"),
        ({"userId": "a\u202eb", "room": "r"}, "bad_name"),
        ({"userId": {"x": 1}, "room": "r"}, "bad_name"),
        ({"userId": None, "room": "r"}, "bad_name"),
        ({"userId": "ok", "room": ""}, "bad_room"),
        ({"userId": "ok", "room": "r" * 65}, "bad_room"),
        ({"userId": "ok", "room": 5}, "bad_room"),
        ({"userId": "ok", "room": "r", "since": "5"}, "bad_message"),
        ({"userId": "ok", "room": "r", "since": -1}, "bad_message"),
        ({"userId": "ok", "room": "r", "resume": 7}, "bad_message"),
    ],
)
def test_bad_joins_are_refused_and_leave_the_connection_unjoined(server_thread, join, code):
    async def scenario():
        peer = await ChatPeer.open(server_thread.url)
        reply = await peer.join(**{"name": join["userId"], "room": join["room"]},
                                **{k: v for k, v in join.items() if k not in ("userId", "room")})
        assert reply["type"] == "error" and reply["code"] == code
        await peer.send(type="chat", content="hi")
        assert (await peer.recv())["code"] == "not_joined"

    run(scenario())


def test_longest_valid_name_and_room_are_accepted(server_thread):
    async def scenario():
        peer = await ChatPeer.open(server_thread.url)
        welcome = await peer.join("  " + "名" * 32 + "  ", "房" * 64)
        assert welcome["type"] == "welcome" and welcome["userId"] == "名" * 32

    run(scenario())


# Bad input -----------------------------------------------------------------------

BAD_FRAMES = [
    ("null", "bad_message"),
    ("[]", "bad_message"),
    ("42", "bad_message"),
    ('"chat"', "bad_message"),
    ("{not json", "bad_json"),
    ("", "bad_json"),
    ('{"type": 5}', "unknown_type"),
    ('{"type": "shout"}', "unknown_type"),
    ('{"content": "no type"}', "unknown_type"),
    ('{"type": "chat", "content": {"html": "<b>"}}', "bad_message"),
    ('{"type": "chat", "content": 12}', "bad_message"),
    ('{"type": "chat", "content": null}', "bad_message"),
    ('{"type": "chat", "content": ["a"]}', "bad_message"),
    ('{"type": "chat", "content": ""}', "empty"),
    ('{"type": "chat", "content": "  \\n "}', "empty"),
    ('{"type": "chat", "content": "' + "x" * 4001 + '"}', "too_long"),
    ('{"type": "chat", "content": "a\\u0000b"}', "bad_message"),
    ('{"type": "chat", "content": "\\ud800"}', "bad_message"),
    ('{"type": "chat", "content": "hi", "to": 5}', "no_such_member"),
    ('{"type": "chat", "content": "hi", "nonce": 5}', "bad_message"),
    ('{"type": "typing", "active": "yes"}', "bad_message"),
    ("[" * 100_00 + "]" * 100_00, "bad_json"),
]


def test_bad_frames_get_errors_and_reach_nobody(server_thread):
    async def scenario():
        sender = await ChatPeer.open(server_thread.url)
        await sender.join("sender", "r")
        seed = await ChatPeer.open(server_thread.url, v2=False)
        await seed.join("seed", "r")
        witness = await ChatPeer.open(server_thread.url)
        await witness.join("witness", "r")
        for peer in (sender, seed, witness):
            await peer.nothing(0.2)
        for frame, code in BAD_FRAMES:
            await sender.connection.send(frame)
            reply = await sender.recv()
            assert reply["type"] == "error" and reply["code"] == code, (frame[:40], reply)
            await seed.connection.send(frame)
        assert await seed.nothing() == []  # v1 hears nothing about its bad frames
        assert await witness.nothing() == []  # and nothing malformed reached anyone
        await sender.send(type="chat", content="still fine", nonce="ok")
        assert (await sender.expect("chat", nonce="ok"))["content"] == "still fine"
        assert (await witness.expect("chat"))["content"] == "still fine"

    run(scenario())


def test_the_longest_message_is_accepted(server_thread):
    async def scenario():
        peer = await ChatPeer.open(server_thread.url)
        await peer.join("p", "r")
        await peer.send(type="chat", content="长" * 4000, nonce="long")
        assert len((await peer.expect("chat", nonce="long"))["content"]) == 4000

    run(scenario())


def test_binary_frames_are_refused(server_thread):
    async def scenario():
        peer = await ChatPeer.open(server_thread.url)
        await peer.join("p", "r")
        await peer.connection.send(b'{"type":"chat","content":"x"}')
        assert (await peer.expect("error"))["code"] == "bad_message"

    run(scenario())


def test_oversized_frame_closes_with_1009(server_thread):
    async def scenario():
        peer = await ChatPeer.open(server_thread.url)
        await peer.join("p", "r")
        await peer.connection.send(json.dumps({"type": "chat", "content": "x" * (70 * 1024)}))
        with pytest.raises(ConnectionClosed):
            while True:
                await peer.recv()
        assert peer.connection.close_code == 1009

    run(scenario())


def test_an_oversized_frame_still_arriving_gets_1009_and_a_clean_close(server_thread):
    """The server refuses at the header, then reads and drops the rest: no reset for the sender."""
    sock = raw_websocket(server_thread.port)
    sock.sendall(client_frame(0x1, b"", claimed_length=8 * 1024 * 1024))
    for _ in range(16):  # 1 MiB of the announced payload, arriving after the refusal
        sock.sendall(b"x" * 65536)
    received = b""
    while chunk := sock.recv(65536):  # a reset would raise ConnectionResetError here
        received += chunk
    sock.close()
    assert received[:1] == b"\x88", received[:20]
    assert struct.unpack("!H", received[2:4])[0] == 1009
    assert b"over 65536 bytes" in received


def test_a_ping_between_fragments_of_a_message_near_the_limit_is_answered(server_thread):
    """Only a message's own fragments count towards its 64 KiB, not a control frame among them."""
    sock = raw_websocket(server_thread.port)
    message = b'{"type":"ping"' + b" " * (65_500 - 16) + b"}"
    sock.sendall(client_frame(0x1, message[:65_450], fin=False))
    sock.sendall(client_frame(0x9, b"p" * 100))
    sock.sendall(client_frame(0x0, message[65_450:]))
    received = b""
    while b'"pong"' not in received:
        chunk = sock.recv(65536)
        assert chunk, received[:40]
        received += chunk
    sock.close()
    assert received.startswith(b"\x8a\x64" + b"p" * 100), received[:20]  # the pong frame first


def test_a_handshake_that_never_finishes_is_dropped(tmp_path):
    thread = ServerThread(make_config(tmp_path, open_timeout=0.3))
    thread.start()
    try:
        slow = socket.create_connection(("127.0.0.1", thread.port), timeout=5)
        slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        started = time.monotonic()
        assert slow.recv(1024) == b""  # the server hung up
        assert time.monotonic() - started < 2
        slow.close()
    finally:
        thread.stop()


def test_an_oversized_handshake_request_gets_431(server_thread):
    sock = socket.create_connection(("127.0.0.1", server_thread.port), timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + b"c" * (20 * 1024))
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:60]


def test_rate_limit_drops_the_excess_with_an_error(server_thread):
    async def scenario():
        flooder = await ChatPeer.open(server_thread.url)
        await flooder.join("flooder", "r")
        listener = await ChatPeer.open(server_thread.url)
        await listener.join("listener", "r")
        await flooder.nothing(0.1)
        for i in range(100):
            await flooder.send(type="chat", content=f"f{i}", nonce=str(i))
        replies = await flooder.nothing(0.5)
        acks = [f for f in replies if f["type"] == "chat"]
        limited = [f for f in replies if f.get("code") == "rate_limited"]
        assert 40 <= len(acks) <= 45 and len(acks) + len(limited) == 100
        assert all(f["nonce"] for f in limited)
        delivered = [f for f in await listener.nothing(0.3) if f["type"] == "chat"]
        assert len(delivered) == len(acks)
        await asyncio.sleep(0.2)  # tokens come back at 20/s
        await flooder.send(type="chat", content="later", nonce="later")
        assert (await flooder.expect("chat", nonce="later"))["content"] == "later"

    run(scenario())


# Rooms --------------------------------------------------------------------------------


def test_second_join_leaves_the_old_room_properly(server_thread):
    async def scenario():
        mover = await ChatPeer.open(server_thread.url)
        await mover.join("mover", "old")
        stayer = await ChatPeer.open(server_thread.url)
        await stayer.join("stayer", "old")
        await mover.nothing(0.1)
        await stayer.nothing(0.1)
        welcome = await mover.join("mover", "new")
        assert welcome["type"] == "welcome" and welcome["room"] == "new" and welcome["online"] == 1
        assert (await stayer.expect("system"))["event"] == "leave"
        assert (await stayer.expect("members"))["members"] == ["stayer"]
        await stayer.send(type="chat", content="old room only")
        assert [f for f in await mover.nothing() if f["type"] == "chat"] == []
        await mover.send(type="leave")
        await mover.send(type="chat", content="x")
        assert (await mover.expect("error"))["code"] == "not_joined"

    run(scenario())


def test_typing_reaches_the_others_in_v2(server_thread):
    async def scenario():
        a = await ChatPeer.open(server_thread.url)
        await a.join("a", "r")
        b = await ChatPeer.open(server_thread.url)
        await b.join("b", "r")
        await a.send(type="typing", active=True)
        assert await b.expect("typing") == {"type": "typing", "from": "a", "active": True}
        assert [f for f in await a.nothing() if f["type"] == "typing"] == []

    run(scenario())


# Persistence and lifecycle -----------------------------------------------------------


def test_restart_on_the_same_data_dir_keeps_history_and_ids(tmp_path):
    async def talk(port: int | None, sends: int) -> tuple[int, list[dict]]:
        thread = ServerThread(make_config(tmp_path, **({"port": port} if port else {})))
        thread.start()
        try:
            peer = await ChatPeer.open(thread.url)
            await peer.join("p", "r")
            history = (await peer.expect("history"))["messages"]
            for i in range(sends):
                await peer.send(type="chat", content=f"m{i}", nonce=str(i))
                await peer.expect("chat", nonce=str(i))
            await peer.close()
            return thread.port, history
        finally:
            await asyncio.to_thread(thread.stop)

    port, history = run(talk(None, 3))
    assert history == []
    _, history = run(talk(port, 2))
    assert [m["id"] for m in history] == [1, 2, 3]
    _, history = run(talk(None, 0))
    assert [m["id"] for m in history] == [1, 2, 3, 4, 5]


def test_retention_keeps_the_newest_messages(tmp_path):
    from server.protocol import ChatRecord
    from server.store import TRIM_EVERY, HistoryStore

    store = HistoryStore(tmp_path / "h.sqlite3", retention=10)
    for batch in range(26):
        store.append_batch([ChatRecord(batch * 5 + i + 1, "r", "a", "x", 0) for i in range(5)])
    kept = [r.id for r in store.since("r", "a", 0, 1000)]
    assert kept[-10:] == list(range(121, 131))  # the newest are all there
    assert 10 <= len(kept) < 10 + TRIM_EVERY and kept == list(range(kept[0], 131))
    assert store.last_id("r") == 130
    store.close()


def _start_headless(tmp_path: Path, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(tmp_path), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )



def test_sigterm_closes_clients_with_1001_and_keeps_what_was_acknowledged(tmp_path):
    port = free_port()
    proc = _start_headless(tmp_path, port)
    wait_listening(port, proc)

    async def scenario():
        peer = await ChatPeer.open(f"ws://127.0.0.1:{port}")
        await peer.join("p", "r")
        for i in range(20):
            await peer.send(type="chat", content=f"m{i}", nonce=str(i))
        last = None
        for i in range(20):
            last = await peer.expect("chat", nonce=str(i))
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed):
            while True:
                await peer.recv()
        return peer.connection.close_code, last["id"]

    code, last_id = run(scenario())
    assert code == 1001
    assert proc.wait(10) == 0
    from server.store import HistoryStore

    assert HistoryStore(tmp_path / "history.sqlite3").last_id("r") == last_id == 20


def test_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        proc = _start_headless(tmp_path, port)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert err.strip() == f"roomchat-server: port {port} is already in use; choose another with --port"


def test_python_m_server_help():
    out = subprocess.run([sys.executable, "-m", "server", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--data-dir" in out.stdout and "--rate-limit" in out.stdout


# HTTP on the same port ------------------------------------------------------------------


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_http_page_healthz_and_404(server_thread):
    base = f"http://127.0.0.1:{server_thread.port}"
    status, kind, body = _get(base + "/")
    assert status == 200 and kind.startswith("text/html") and b"<html" in body.lower()

    async def scenario():
        peer = await ChatPeer.open(server_thread.url)
        await peer.join("p", "health")
        status, kind, body = await asyncio.to_thread(_get, base + "/healthz")
        return status, kind, json.loads(body)

    status, kind, health = run(scenario())
    assert status == 200 and kind == "application/json"
    assert health == {"status": "ok", "version": "0.1.0", "rooms": 1, "connections": 1}
    for path in ("/nope", "/../pyproject.toml", "/%2e%2e/server/app.py", "/server/app.py"):
        assert _get(base + path)[0] == 404


def test_connections_per_ip_are_limited_with_429(tmp_path):
    thread = ServerThread(make_config(tmp_path, max_conns_per_ip=3))
    thread.start()
    try:
        async def scenario():
            peers = [await ChatPeer.open(thread.url) for _ in range(3)]
            with pytest.raises(InvalidStatus) as refused:
                await ChatPeer.open(thread.url)
            assert refused.value.response.status_code == 429
            assert b"too many connections" in refused.value.response.body
            await peers[0].close()
            await asyncio.sleep(0.2)
            await ChatPeer.open(thread.url)

        run(scenario())
    finally:
        thread.stop()


def test_a_peer_that_stops_answering_pings_is_dropped(tmp_path):
    thread = ServerThread(make_config(tmp_path, ping_interval=0.3, ping_timeout=0.3, close_timeout=0.3))
    thread.start()
    try:
        dead = raw_websocket(thread.port, timeout=None)
        dead.sendall(client_frame(0x1, json.dumps({"type": "join", "userId": "ghost", "room": "r"}).encode()))

        async def scenario():
            watcher = await ChatPeer.open(thread.url)
            welcome = await watcher.join("watcher", "r")
            assert welcome["members"] == ["ghost", "watcher"]
            leave = await watcher.expect("system", timeout=5, event="leave")
            assert leave["userId"] == "ghost"

        run(scenario())
        dead.close()
    finally:
        thread.stop()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_member_that_stops_reading_is_closed_and_the_room_goes_on(tmp_path):
    """A headless server, so its memory is its own: the stuck member costs at most ~1 MiB."""
    port = free_port()
    proc = _start_headless(tmp_path, port, "--rate-limit", "0")
    try:
        wait_listening(port, proc)
        stuck = raw_websocket(port, receive_buffer=4096, timeout=None)
    except BaseException:
        proc.kill()
        raise
    try:
        stuck.sendall(client_frame(0x1, json.dumps({"type": "join", "userId": "stuck", "room": "r"}).encode()))
        url = f"ws://127.0.0.1:{port}"

        async def scenario():
            talker = await ChatPeer.open(url, v2=False)  # v1: no acknowledgements to read
            await talker.join("talker", "r")
            reader = await ChatPeer.open(url)
            await reader.join("reader", "r")
            await reader.nothing(0.1)
            rss_before = _rss_kib(proc.pid)
            payload = "y" * 3900
            sent = received = 0
            left = None
            # The kernel absorbs a few MiB on loopback; past that the server's own buffer for
            # "stuck" passes 1 MiB and it must be dropped. 2,000 x 4 KB = 7.8 MB at most.
            while left is None and sent < 2000:
                for _ in range(50):
                    await talker.send(type="chat", content=payload)
                sent += 50
                for frame in await reader.nothing(0.02):
                    received += frame["type"] == "chat"
                    if frame.get("event") == "leave":
                        left = frame["userId"]
            for _ in range(20):  # 1,000 more messages once "stuck" is gone
                for _ in range(50):
                    await talker.send(type="chat", content=payload)
                sent += 50
                received += sum(f["type"] == "chat" for f in await reader.nothing(0.02))
            while received < sent:
                late = await reader.nothing(1.0)
                if not late:
                    break
                received += sum(f["type"] == "chat" for f in late)
            return sent, received, left, _rss_kib(proc.pid) - rss_before

        sent, received, left, rss_growth_kib = run(scenario())
        assert left == "stuck"
        assert received == sent  # the room went on, nothing lost
        assert rss_growth_kib < 16 * 1024, f"server grew by {rss_growth_kib} KiB"
    finally:
        stuck.close()
        proc.terminate()
        proc.wait(10)


# Design boundaries ------------------------------------------------------------------------


def test_server_never_imports_qt_and_protocol_imports_no_io():
    code = (
        "import sys, server.app, server.__main__, server.thread; "
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt loaded'; "
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    code = (
        "import sys; before = set(sys.modules); import server.protocol; "
        "new = set(sys.modules) - before; "
        "bad = {m for m in new if m.split('.')[0] in {'asyncio', 'socket', 'sqlite3', 'websockets', 'ssl'}}; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_long_resume_is_capped_flagged_and_not_mistaken_for_a_slow_member(tmp_path):
    from server.hub import RESUME_MAX
    from server.protocol import ChatRecord
    from server.store import HistoryStore

    store = HistoryStore(tmp_path / "history.sqlite3", retention=0)
    # 3 bytes a character: ~12 MB of history, more than the kernel buffers on loopback
    store.append_batch([ChatRecord(i + 1, "r", "w", f"{i} " + "长" * 3900, 0) for i in range(RESUME_MAX + 500)])
    store.close()
    thread = ServerThread(make_config(tmp_path))
    thread.start()
    try:
        async def scenario():
            slow_link = socket.socket()  # a small window: the history backs up in the server
            slow_link.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow_link.connect(("127.0.0.1", thread.port))
            slow_link.setblocking(False)
            peer = await ChatPeer.open(thread.url, max_size=None, sock=slow_link)
            await peer.join("back", "r", since=0)
            first = await peer.expect("history")
            records = list(first["messages"])
            while len(records) < RESUME_MAX:  # far over the 1 MiB slow-member bound
                records += (await peer.expect("history"))["messages"]
            await peer.send(type="ping")
            assert (await peer.expect("pong"))["type"] == "pong"  # still connected
            return first.get("truncated"), [r["id"] for r in records]

        truncated, ids = run(scenario())
        assert truncated is True
        assert ids == list(range(501, RESUME_MAX + 501))  # the newest, in order
    finally:
        thread.stop()


def test_a_message_completed_by_a_later_read_leaves_the_connection_reading(server_thread):
    """A frame that arrives in two reads is parsed once whole; what comes after it still is."""
    sock = raw_websocket(server_thread.port)
    try:
        sock.sendall(client_frame(0x1, json.dumps({"type": "join", "userId": "split", "room": "r"}).encode()))
        frame = client_frame(0x1, json.dumps({"type": "chat", "content": "x" * 60_000}).encode())
        sock.sendall(frame[:30_000])
        time.sleep(0.2)  # the server reads the first half on its own
        sock.sendall(frame[30_000:])
        time.sleep(0.2)
        sock.sendall(client_frame(0x1, b'{"type":"ping"}'))
        received = b""
        deadline = time.monotonic() + 5
        while b'"pong"' not in received and time.monotonic() < deadline:
            received += sock.recv(65536)
        assert b'"pong"' in received
    finally:
        sock.close()
