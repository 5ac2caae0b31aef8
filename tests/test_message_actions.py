"""Replies, edits, deletions and search over real loopback websockets and a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import ChatPeer, make_config, run

from server import protocol
from server.protocol import ChatRecord, DeleteRecord, EditRecord, Quote
from server.store import HistoryStore
from server.thread import ServerThread


async def joined(url: str, name: str, room: str = "r", **extra) -> tuple[ChatPeer, dict]:
    peer = await ChatPeer.open(url)
    welcome = await peer.join(name, room, **extra)
    assert welcome["type"] == "welcome", welcome
    await peer.expect("history")
    return peer, welcome


async def say(peer: ChatPeer, content: str, **extra) -> dict:
    """Send a chat and return its acknowledgement."""
    nonce = f"n{time.monotonic_ns()}"
    await peer.send(type="chat", content=content, nonce=nonce, **extra)
    return await peer.expect("chat", nonce=nonce)


async def act(peer: ChatPeer, kind: str, **fields) -> dict:
    """Send an edit/delete/search and return the answer that carries its nonce."""
    nonce = f"{kind}{time.monotonic_ns()}"
    await peer.send(type=kind, nonce=nonce, **fields)
    while True:
        answer = await peer.recv()
        if answer.get("nonce") == nonce:
            return answer


# Reply -----------------------------------------------------------------------------------------


def test_a_reply_carries_the_quote_of_the_original_to_everyone(server_thread):
    async def scenario():
        alice, _ = await joined(server_thread.url, "alice")
        bob, _ = await joined(server_thread.url, "bob")
        await alice.nothing(0.1)
        original = await say(alice, "\n  lunch at noon?  \nbring the menu")
        await bob.expect("chat", id=original["id"])
        reply = await say(bob, "yes!", replyTo=original["id"])
        quote = {"id": original["id"], "from": "alice", "excerpt": "lunch at noon?"}
        assert reply["replyTo"] == quote
        assert (await alice.expect("chat", id=reply["id"]))["replyTo"] == quote
        # A joiner's history carries the quote too.
        carol, _ = await ChatPeer.open(server_thread.url), None
        await carol.join("carol", "r")
        history = (await carol.expect("history"))["messages"]
        assert history[-1]["replyTo"] == quote

    run(scenario())


def test_a_reply_quotes_a_message_older_than_the_loaded_history(unlimited_server):
    async def scenario():
        alice, _ = await joined(unlimited_server.url, "alice")
        first = await say(alice, "the very first message, long ago " + "x" * 200)
        for i in range(60):
            await say(alice, f"filler {i}")
        bob, _ = await ChatPeer.open(unlimited_server.url), None
        await bob.join("bob", "r")
        history = (await bob.expect("history"))["messages"]
        assert first["id"] not in [m["id"] for m in history]  # bob never loaded it
        reply = await say(bob, "answering that", replyTo=first["id"])
        excerpt = reply["replyTo"]["excerpt"]
        assert excerpt.startswith("the very first message, long ago x") and excerpt.endswith("…")
        assert len(excerpt) == protocol.QUOTE_MAX

    run(scenario())


def test_replies_to_missing_or_invisible_messages_are_refused(server_thread):
    async def scenario():
        alice, _ = await joined(server_thread.url, "alice")
        bob, _ = await joined(server_thread.url, "bob")
        eve, _ = await joined(server_thread.url, "eve")
        other, _ = await joined(server_thread.url, "olga", room="elsewhere")
        elsewhere = await say(other, "in another room")
        private = await say(alice, "for bob only", to="bob")
        await bob.expect("chat", id=private["id"])
        for peer in (alice, bob, eve):
            await peer.nothing(0.1)
        for reply_to in (999, elsewhere["id"] + 100, private["id"]):
            answer = await act(eve, "chat", content="gotcha", replyTo=reply_to)
            assert answer["type"] == "error" and answer["code"] == "no_such_message", answer
        # Bob may answer alice's private message, privately; a public reply would leak it.
        answer = await act(bob, "chat", content="to the room", replyTo=private["id"])
        assert answer["code"] == "not_allowed"
        answer = await act(bob, "chat", content="to eve", replyTo=private["id"], to="eve")
        assert answer["code"] == "not_allowed"
        answer = await act(bob, "chat", content="got it", replyTo=private["id"], to="alice")
        assert answer["type"] == "chat" and answer["replyTo"]["excerpt"] == "for bob only"
        for kind, value in (("string", "5"), ("negative", -1), ("bool", True), ("float", 1.5)):
            answer = await act(alice, "chat", content="x", replyTo=value)
            assert answer["code"] == "bad_message", kind
        # Nothing refused reached anyone, and eve never saw the private text.
        assert "for bob only" not in repr(await eve.nothing(0.2))

    run(scenario())


# Edit and delete -------------------------------------------------------------------------------


def test_edit_and_delete_reach_everyone_and_history_shows_the_current_state(server_thread):
    async def scenario():
        alice, _ = await joined(server_thread.url, "alice")
        bob, _ = await joined(server_thread.url, "bob")
        seed = await ChatPeer.open(server_thread.url, v2=False)
        await seed.join("seed", "r")
        await alice.nothing(0.1), await bob.nothing(0.1), await seed.nothing(0.1)
        original = await say(alice, "teh plan")
        await bob.expect("chat", id=original["id"])
        await seed.expect("chat", content="teh plan")
        edit = await act(alice, "edit", id=original["id"], content="the plan")
        assert edit["type"] == "edit" and edit["target"] == original["id"] and edit["id"] == original["id"] + 1
        assert (await bob.expect("edit"))["content"] == "the plan"
        assert (await seed.expect("chat"))["content"] == "[已编辑] the plan"
        reply = await say(bob, "ok", replyTo=original["id"])
        assert reply["replyTo"]["excerpt"] == "the plan"
        carol = await ChatPeer.open(server_thread.url)
        await carol.join("carol", "r")
        (first, second) = (await carol.expect("history"))["messages"]
        assert first["content"] == "the plan" and first["edited"] == edit["timestamp"]
        deletion = await act(alice, "delete", id=original["id"])
        assert deletion["type"] == "delete" and deletion["target"] == original["id"]
        assert (await bob.expect("delete"))["target"] == original["id"]
        assert (await carol.expect("delete"))["id"] == deletion["id"]
        await seed.expect("system", content="用户「alice」删除了一条消息")
        dave = await ChatPeer.open(server_thread.url)
        await dave.join("dave", "r")
        history = (await dave.expect("history"))["messages"]
        assert history[0]["deleted"] is True and history[0]["content"] == ""
        assert history[1]["replyTo"] == {"id": original["id"], "from": "alice", "excerpt": None}
        late_seed = await ChatPeer.open(server_thread.url, v2=False)
        await late_seed.join("seed2", "r")
        texts = [m["content"] for m in await late_seed.nothing(0.3) if m["type"] == "chat"]
        assert texts == ["[消息已删除]", "[↪ alice: [消息已删除]] ok"]
        # The text is gone from the store: the message, its earlier version and the quote.
        await asyncio.sleep(0.1)

    run(scenario())
    db = sqlite3.connect(server_thread.config.data_dir / "history.sqlite3")
    assert db.execute("SELECT count(*) FROM messages WHERE content LIKE '%plan%'").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM messages WHERE quote_text LIKE '%plan%'").fetchone() == (0,)


def test_resume_with_since_delivers_each_edit_and_delete_exactly_once(unlimited_server):
    async def scenario():
        alice, _ = await joined(unlimited_server.url, "alice")
        listener, _ = await joined(unlimited_server.url, "listener")
        ids = [(await say(alice, f"m{i}"))["id"] for i in range(6)]
        seen = [(await listener.expect("chat"))["id"] for _ in range(6)]
        await listener.close()
        await act(alice, "edit", id=ids[0], content="m0 fixed")
        await act(alice, "delete", id=ids[1])
        await say(alice, "after")
        await act(alice, "edit", id=ids[0], content="m0 fixed twice")
        await asyncio.sleep(0.1)
        listener, _ = await ChatPeer.open(unlimited_server.url), None
        await listener.join("listener", "r", since=seen[-1])
        resumed = (await listener.expect("history"))["messages"]
        await act(alice, "edit", id=ids[2], content="m2 live")
        live = await listener.expect("edit")
        got = [m["id"] for m in resumed] + [live["id"]]
        assert got == list(range(seen[-1] + 1, seen[-1] + 6)), got
        assert [(m["type"], m.get("target")) for m in resumed] == [
            ("edit", ids[0]), ("delete", ids[1]), ("chat", None), ("edit", ids[0])
        ]
        assert resumed[-1]["content"] == "m0 fixed twice"

    run(scenario())


def test_nobody_changes_a_message_that_is_not_theirs(tmp_path):
    """Every path: another member, another room, another pair's private message, a name taken
    over without its secret, a missing id, an event's id, a deleted message, and v1."""
    thread = ServerThread(make_config(tmp_path / "data"))
    thread.start()
    try:

        async def scenario():
            url = thread.url
            alice, alice_welcome = await joined(url, "alice")
            bob, _ = await joined(url, "bob")
            carol, _ = await joined(url, "carol")
            olga, _ = await joined(url, "olga", room="other")
            for i in range(20):  # olga's room's ids run past those of room "r"
                await say(olga, f"filler {i}")
            public = await say(alice, "alice's public words")
            private = await say(alice, "alice to bob", to="bob")
            theirs = await say(olga, "olga's own room")
            edit = await act(alice, "edit", id=public["id"], content="alice's public words, fixed")
            gone = await say(alice, "soon deleted")
            await act(alice, "delete", id=gone["id"])
            for peer in (alice, bob, carol):
                await peer.nothing(0.1)
            tries = [
                (bob, public["id"], "not_allowed"),  # someone else's message
                (bob, private["id"], "not_allowed"),  # the addressee is not its sender
                (carol, private["id"], "no_such_message"),  # another pair's private message
                (carol, theirs["id"], "no_such_message"),  # another room's message
                (carol, 10_000, "no_such_message"),
                (alice, edit["id"], "no_such_message"),  # an edit event is not a message
                (alice, gone["id"], "no_such_message"),  # already deleted
            ]
            for peer, target, code in tries:
                for kind, extra in (("edit", {"content": "hacked"}), ("delete", {})):
                    answer = await act(peer, kind, id=target, **extra)
                    assert answer["type"] == "error" and answer["code"] == code, (kind, target, answer)
            # A different person takes "alice" after she left, without her secret, twice.
            await alice.close()
            await asyncio.sleep(0.1)
            impostor, first = await joined(url, "alice")
            answer = await act(impostor, "edit", id=public["id"], content="impostor")
            assert answer["code"] == "not_allowed"
            await impostor.close()
            await asyncio.sleep(0.1)
            impostor, _ = await joined(url, "ALICE", resume=first["resume"])  # its own secret
            for kind, extra in (("edit", {"content": "impostor"}), ("delete", {})):
                assert (await act(impostor, kind, id=public["id"], **extra))["code"] == "not_allowed"
            answer = await act(impostor, "chat", content="peek", replyTo=private["id"], to="bob")
            assert answer["code"] == "no_such_message"
            await impostor.close()
            await asyncio.sleep(0.1)
            # v1 clients speak the seed's protocol: edit is not part of it.
            seed = await ChatPeer.open(url, v2=False)
            await seed.join("alice", "r")
            await seed.send(type="edit", id=public["id"], content="seed edit")
            await seed.send(type="delete", id=public["id"])
            await seed.nothing(0.2)
            # The real alice, back with her secret, still can.
            await seed.close()
            await asyncio.sleep(0.1)
            alice, _ = await joined(url, "alice", resume=alice_welcome["resume"])
            answer = await act(alice, "edit", id=public["id"], content="really alice")
            assert answer["type"] == "edit"
            for peer in (bob, carol):
                frames = await peer.nothing(0.3)
                contents = [f.get("content") for f in frames if f["type"] in ("chat", "edit")]
                assert contents == ["really alice"], frames

        run(scenario())
    finally:
        thread.stop()
    db = sqlite3.connect(thread.config.data_dir / "history.sqlite3")
    contents = [row[0] for row in db.execute("SELECT content FROM messages WHERE kind = 0 ORDER BY seq")]
    assert not any(word in " ".join(contents) for word in ("hacked", "impostor", "seed edit"))


def test_the_edit_window_closes(tmp_path):
    thread = ServerThread(make_config(tmp_path / "data", edit_window=0.3))
    thread.start()
    try:

        async def scenario():
            alice, welcome = await joined(thread.url, "alice")
            assert welcome["editWindow"] == 0.3, "the welcome says how long changes are allowed"
            message = await say(alice, "quick")
            assert (await act(alice, "edit", id=message["id"], content="quicker"))["type"] == "edit"
            await asyncio.sleep(0.4)
            for kind, extra in (("edit", {"content": "too late"}), ("delete", {})):
                assert (await act(alice, kind, id=message["id"], **extra))["code"] == "too_late"

        run(scenario())
    finally:
        thread.stop()


def test_the_welcome_says_the_default_edit_window_and_clients_read_only_numbers(server_thread):
    async def scenario():
        _, welcome = await joined(server_thread.url, "alice")
        assert welcome["editWindow"] == 24 * 3600

    run(scenario())
    base = '{"type":"welcome","room":"r","userId":"a","members":[],"resume":"","lastId":0'
    assert protocol.parse_server(base + ',"editWindow":60}').edit_window == 60
    for hostile in ('"60"', "true", "-1", "1e999", "null", "[1]"):
        assert protocol.parse_server(base + f',"editWindow":{hostile}}}').edit_window is None, hostile
    assert protocol.parse_server(base + "}").edit_window is None


def test_bad_edit_and_delete_frames_are_refused(server_thread):
    async def scenario():
        alice, _ = await joined(server_thread.url, "alice")
        message = await say(alice, "hello")
        cases = [
            ("edit", {"content": "no id"}, "bad_message"),
            ("edit", {"id": "1", "content": "x"}, "bad_message"),
            ("edit", {"id": message["id"], "content": "   "}, "empty"),
            ("edit", {"id": message["id"], "content": "x" * 4001}, "too_long"),
            ("edit", {"id": message["id"]}, "bad_message"),
            ("delete", {}, "bad_message"),
            ("delete", {"id": -5}, "bad_message"),
        ]
        for kind, fields, code in cases:
            answer = await act(alice, kind, **fields)
            assert answer["type"] == "error" and answer["code"] == code, (kind, fields, answer)
        unjoined = await ChatPeer.open(server_thread.url)
        answer = await act(unjoined, "edit", id=1, content="x")
        assert answer["code"] == "not_joined"

    run(scenario())


# Search ----------------------------------------------------------------------------------------


def test_search_finds_chinese_latin_and_short_words_newest_first(unlimited_server):
    async def scenario():
        alice, _ = await joined(unlimited_server.url, "alice")
        said = {}
        for text in ("我们明天去北京开会", "北京烤鸭很好吃", "Meeting notes: ROADMAP draft", "an ok idea",
                     "100% sure_thing", "unrelated chatter"):
            said[text] = (await say(alice, text))["id"]

        async def found(query: str) -> list[str]:
            answer = await act(alice, "search", query=query)
            assert answer["type"] == "results" and answer["query"] == query, answer
            return [m["content"] for m in answer["messages"]]

        assert await found("北京") == ["北京烤鸭很好吃", "我们明天去北京开会"]  # two characters
        assert await found("去北京") == ["我们明天去北京开会"]  # trigram
        assert await found("roadmap") == ["Meeting notes: ROADMAP draft"]  # any case
        assert await found("ok") == ["an ok idea"]
        assert await found("meet") == ["Meeting notes: ROADMAP draft"]  # the start of a word
        assert await found("会") == ["我们明天去北京开会"]  # one character
        assert await found("明天去北京开会") == ["我们明天去北京开会"]
        assert await found("北京开") == ["我们明天去北京开会"]
        assert await found("京烤鸭好") == []
        assert await found("notes draft") == ["Meeting notes: ROADMAP draft"]  # every word
        assert await found("notes chatter") == []
        assert await found("100%") == ["100% sure_thing"]  # LIKE wildcards are literal
        assert await found("e%t") == []
        assert await found('"roadmap" OR chatter') == []  # FTS syntax is literal text
        assert await found("NEAR(notes") == []
        results = (await act(alice, "search", query="北京"))["messages"]
        assert [m["id"] for m in results] == [said["北京烤鸭很好吃"], said["我们明天去北京开会"]]

    run(scenario())


def test_search_follows_edits_and_deletions(server_thread):
    async def scenario():
        alice, _ = await joined(server_thread.url, "alice")
        message = await say(alice, "the colour purple")
        assert len((await act(alice, "search", query="purple"))["messages"]) == 1
        await act(alice, "edit", id=message["id"], content="the colour orange")
        assert (await act(alice, "search", query="purple"))["messages"] == []
        (hit,) = (await act(alice, "search", query="orange"))["messages"]
        assert hit["id"] == message["id"] and hit["edited"]
        await act(alice, "delete", id=message["id"])
        assert (await act(alice, "search", query="orange"))["messages"] == []
        assert (await act(alice, "search", query="colour"))["messages"] == []

    run(scenario())


def test_bad_queries_are_refused(server_thread):
    async def scenario():
        alice, _ = await joined(server_thread.url, "alice")
        for fields, code in (({"query": "   "}, "empty"), ({"query": 5}, "bad_message"), ({}, "bad_message"),
                             ({"query": "x" * 201}, "too_long"), ({"query": "a b c d e f g h i"}, "too_long")):
            answer = await act(alice, "search", **fields)
            assert answer["type"] == "error" and answer["code"] == code, (fields, answer)
        unjoined = await ChatPeer.open(server_thread.url)
        assert (await act(unjoined, "search", query="hello"))["code"] == "not_joined"

    run(scenario())


def test_search_index_survives_a_restart_and_indexes_old_history(tmp_path):
    """A history written before search existed (no index file) is indexed at start."""
    data = tmp_path / "data"
    store = HistoryStore(data / "history.sqlite3")
    store.append_batch([ChatRecord(i, "r", "alice", f"archived {i} 档案", 1000 + i) for i in range(1, 301)])
    store.close()
    thread = ServerThread(make_config(data))
    thread.start()
    try:

        async def scenario():
            alice, _ = await joined(thread.url, "alice")
            hits = (await act(alice, "search", query="档案"))["messages"]
            assert [m["id"] for m in hits] == list(range(300, 250, -1))  # newest 50
            hits = (await act(alice, "search", query="archived 123"))["messages"]
            assert [m["content"] for m in hits] == ["archived 123 档案"]

        run(scenario())
    finally:
        thread.stop()


# Store -----------------------------------------------------------------------------------------


def test_store_applies_events_and_upgrades_an_old_database(tmp_path):
    path = tmp_path / "history.sqlite3"
    old = sqlite3.connect(path)  # the first release's table, with a message in it
    old.executescript(
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY, room TEXT NOT NULL, id INTEGER NOT NULL,"
        " sender TEXT NOT NULL, sender_key TEXT NOT NULL, recipient TEXT, recipient_key TEXT,"
        " content TEXT NOT NULL, ts INTEGER NOT NULL, nonce TEXT);"
        "INSERT INTO messages VALUES (1, 'r', 1, 'alice', 'alice', NULL, NULL, 'from before', 5, NULL);"
    )
    old.commit()
    old.close()
    store = HistoryStore(path)
    try:
        assert store.message("r", 1) == ChatRecord(1, "r", "alice", "from before", 5)
        store.append_batch([
            ChatRecord(2, "r", "bob", "re", 6, reply=Quote(1, "alice", "from before")),
            EditRecord(3, "r", "alice", 1, "from now", 7),
            DeleteRecord(4, "r", "bob", 2, 8),
        ])
        assert store.message("r", 1) == ChatRecord(1, "r", "alice", "from now", 5, edited=7)
        assert store.message("r", 2).deleted and store.message("r", 2).content == ""
        assert store.message("r", 3) is None  # events are not messages
        assert [r.id for r in store.recent("r", "x", 10)] == [1, 2]
        assert store.since("r", "x", 1, 10) == [
            ChatRecord(2, "r", "bob", "", 6, reply=Quote(1, "alice", "from before"), deleted=True),
            EditRecord(3, "r", "alice", 1, "from now", 7),
            DeleteRecord(4, "r", "bob", 2, 8),
        ]
        assert store.last_id("r") == 4
    finally:
        store.close()


def test_edit_window_flag(tmp_path):
    def server(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server", *args, "--port", "0", "--data-dir",
                               str(tmp_path / "d")], capture_output=True, text=True, timeout=20,
                              cwd=Path(__file__).parent.parent)

    for bad in ("-1", "soon", "inf"):
        result = server("--edit-window", bad)
        assert result.returncode == 2 and "--edit-window" in result.stderr, result.stderr


# Security and stalls ---------------------------------------------------------------------------


def test_search_never_finds_another_rooms_or_another_pairs_messages(server_thread):
    async def scenario():
        url = server_thread.url
        alice, alice_welcome = await joined(url, "alice")
        bob, _ = await joined(url, "bob")
        eve, _ = await joined(url, "eve")
        olga, _ = await joined(url, "olga", room="other")
        await say(olga, "needle in the other room")
        await say(alice, "needle between alice and bob", to="bob")
        await say(eve, "needle from eve to herself", to="eve")
        await say(alice, "needle for everyone")

        async def found(peer: ChatPeer) -> list[str]:
            return sorted(m["content"] for m in (await act(peer, "search", query="needle"))["messages"])

        assert await found(alice) == ["needle between alice and bob", "needle for everyone"]
        assert await found(bob) == ["needle between alice and bob", "needle for everyone"]
        assert await found(eve) == ["needle for everyone", "needle from eve to herself"]
        assert await found(olga) == ["needle in the other room"]
        # Someone who takes "bob" after he left, without his secret, finds the room's only.
        await bob.close()
        await asyncio.sleep(0.1)
        impostor, first = await joined(url, "bob")
        assert await found(impostor) == ["needle for everyone"]
        await impostor.close()
        await asyncio.sleep(0.1)
        impostor, _ = await joined(url, "bob", resume=first["resume"])  # its own secret: still nothing
        assert await found(impostor) == ["needle for everyone"]
        # Alice, back with her secret, still finds her conversation.
        await alice.close()
        await asyncio.sleep(0.1)
        alice, _ = await joined(url, "alice", resume=alice_welcome["resume"])
        assert await found(alice) == ["needle between alice and bob", "needle for everyone"]

    run(scenario())


def test_one_search_at_a_time_per_connection(server_thread):
    async def scenario():
        alice, _ = await joined(server_thread.url, "alice")
        await alice.send(type="search", query="one", nonce="s1")
        await alice.send(type="search", query="two", nonce="s2")
        answers = {}
        while len(answers) < 2:
            frame = await alice.recv()
            answers[frame["nonce"]] = frame
        assert answers["s1"]["type"] == "results"
        assert answers["s2"]["type"] == "error" and answers["s2"]["code"] == "rate_limited"
        assert (await act(alice, "search", query="three"))["type"] == "results"  # free again

    run(scenario())


def test_a_query_over_the_time_limit_fails_alone(tmp_path):
    """The search thread interrupts a query that runs too long and answers None."""
    from server.search import SearchIndex

    store = HistoryStore(tmp_path / "history.sqlite3", retention=0)
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    store.append_batch([ChatRecord(i, "r", "a", " ".join(words) + f" {i}", i) for i in range(1, 30_001)])
    index = SearchIndex(tmp_path / "search.sqlite3", store.path, time_limit=0.0)
    answers: list = []
    done = asyncio.Event()
    loop = asyncio.new_event_loop()
    try:
        index.start(loop.call_soon_threadsafe)

        async def ask(query: str):
            done.clear()
            # Every message matches, none is in room "q": the whole index is walked.
            index.search("q", "a", query, private=True, limit=50,
                         done=lambda found: (answers.append(found), done.set()))
            await asyncio.wait_for(done.wait(), 60)
            return answers[-1]

        assert loop.run_until_complete(ask(" ".join(words))) is None
    finally:
        index.stop()
        store.close()
        loop.close()


def test_searches_never_stall_the_chat(tmp_path):
    """Hostile searches (the most words, common ones, over 60,000 messages, from 8
    connections at once) run on the search thread: chat round trips stay fast."""
    data = tmp_path / "data"
    store = HistoryStore(data / "history.sqlite3", retention=0)
    common = "the meeting notes build release 北京 开会 咖啡".split()
    store.append_batch([ChatRecord(i, "r", "x", " ".join(common[: 1 + i % 8]) + " 服务器", i)
                        for i in range(1, 60_001)])
    store.close()
    thread = ServerThread(make_config(data, rate_limit=0))
    thread.start()
    try:

        async def scenario():
            searchers = [(await joined(thread.url, f"s{i}"))[0] for i in range(8)]
            talker, _ = await joined(thread.url, "talker")
            await act(searchers[0], "search", query="warm")  # the index has caught up
            stop = asyncio.Event()
            answered = 0

            async def hammer(peer: ChatPeer) -> None:
                nonlocal answered
                while not stop.is_set():
                    answer = await act(peer, "search", query="the 北京 meeting 开会 notes 咖啡 build 服")
                    assert answer["type"] in ("results", "error")
                    answered += 1

            tasks = [asyncio.create_task(hammer(p)) for p in searchers]
            await asyncio.sleep(0.2)
            round_trips = []
            for i in range(40):
                t0 = time.perf_counter()
                await say(talker, f"still here {i}")
                round_trips.append(time.perf_counter() - t0)
                await asyncio.sleep(0.02)
            stop.set()
            await asyncio.gather(*tasks)
            return max(round_trips), answered

        slowest, answered = run(scenario())
    finally:
        thread.stop()
    assert answered >= 8
    assert slowest < 0.25, f"a chat took {slowest * 1000:.0f} ms while searches ran"
