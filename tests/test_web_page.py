"""The served browser page in real headless Chromium against a real server on loopback.

One browser per module; every page opened through ``open_page`` is also checked, when the test
ends, for console errors, uncaught exceptions and requests leaving the server's origin.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import ARTIFACTS, ChatPeer, make_config
from playwright.async_api import Browser, Page, async_playwright, expect

from server.thread import ServerThread

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1000, "height": 640}
PHONE = {"width": 375, "height": 667}
HOSTILE_NAME = "<img src=x onerror=__pwned=1>"  # the 36-char variant is over the 32-char name limit
HOSTILE_IMG = "<img src=x onerror=window.__pwned=1>"
HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"

expect.set_options(timeout=5000)


class RestartableServer:
    """A ServerThread whose replacement listens on the same port with the same data dir."""

    def __init__(self, data_dir: Path, **options) -> None:
        self.data_dir = data_dir
        self.options = options
        self.thread = ServerThread(make_config(data_dir, **options))
        self.thread.start()
        self.port = self.thread.port

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.thread.stop()

    def start_again(self) -> None:
        self.thread = ServerThread(
            make_config(self.data_dir, **{**self.options, "port": self.port})
        )
        self.thread.start()

    async def stop_soon(self) -> None:
        """Stop from a worker thread: the test's loop must keep running to answer close frames."""
        await asyncio.to_thread(self.stop)

    async def start_again_soon(self) -> None:
        await asyncio.to_thread(self.start_again)


@dataclass
class WatchedPage:
    """A page plus everything it did that a test may want to check."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sent_frames: list[dict] = field(default_factory=list)
    socket_urls: list[str] = field(default_factory=list)
    server_down_on_purpose: bool = False

    def unexpected_errors(self) -> list[str]:
        """Console errors, except Chromium's own report of a refused reconnect to our server
        when the test took the server down (and of the page's look at /healthz that follows
        a reconnect refused before it opened, see connection.js)."""
        refused = (f"WebSocket connection to '{self.socket_origin}' failed",
                   f"Failed to load resource: net::ERR_CONNECTION_REFUSED ({self.origin}/healthz)")
        return [
            error
            for error in self.errors
            if not (self.server_down_on_purpose and error.startswith(refused))
        ]

    @property
    def socket_origin(self) -> str:
        return self.origin.replace("http://", "ws://", 1) + "/"

    def joins(self) -> list[dict]:
        return [frame for frame in self.sent_frames if frame.get("type") == "join"]


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def browser(loop) -> Iterator[Browser]:
    playwright = loop.run_until_complete(async_playwright().start())
    browser = loop.run_until_complete(
        playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    )
    yield browser
    loop.run_until_complete(browser.close())
    loop.run_until_complete(playwright.stop())


@pytest.fixture(scope="module", autouse=True)
def artifacts_dir() -> None:
    ARTIFACTS.mkdir(exist_ok=True)


@pytest.fixture
def run(loop):
    """Run a test's scenario coroutine on the module's loop (the browser lives there)."""
    return lambda coroutine: loop.run_until_complete(asyncio.wait_for(coroutine, 45))


@pytest.fixture
def server(tmp_path) -> Iterator[RestartableServer]:
    holder = RestartableServer(tmp_path / "data")
    yield holder
    holder.stop()


@pytest.fixture
def open_page(browser, server, loop):
    """Open the page served by ``server`` in a fresh context; check it behaved at teardown."""
    contexts, watched = [], []

    async def open_page(
        *,
        locale: str = "en-US",
        viewport: dict = DESKTOP,
        query: str = "",
        origin: str = "",
        fake_clock: bool = False,
    ) -> WatchedPage:
        context = await browser.new_context(locale=locale, viewport=viewport)
        contexts.append(context)
        page = await context.new_page()
        seen = WatchedPage(page, origin or server.origin)
        watched.append(seen)
        page.on("request", lambda request: seen.requests.append(request.url))
        page.on("pageerror", lambda error: seen.errors.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda message: message.type == "error" and seen.errors.append(
                f"{message.text} ({message.location['url']})"
                if message.text.startswith("Failed to load resource") else message.text),
        )

        def on_socket(socket) -> None:
            seen.socket_urls.append(socket.url)
            socket.on("framesent", lambda payload: isinstance(payload, str)  # binary: upload chunks
                      and seen.sent_frames.append(json.loads(payload)))

        page.on("websocket", on_socket)
        if fake_clock:
            await page.clock.install()
        await page.goto(f"{seen.origin}/{query}")
        return seen

    yield open_page
    for context in contexts:
        loop.run_until_complete(context.close())
    for seen in watched:
        assert seen.unexpected_errors() == []
        assert seen.requests, "the page made no request at all"
        assert all(url.startswith(seen.origin + "/") for url in seen.requests), seen.requests
        assert all(url.startswith(seen.socket_origin) for url in seen.socket_urls), seen.socket_urls


async def join(page: Page, name: str, room: str = "room-1") -> None:
    await page.fill("#userId", name)
    await page.fill("#room", room)
    await page.click("#joinBtn")
    await expect(page.locator("#status")).to_have_class("online")


async def page_with_peer(open_page, server, **page_options) -> tuple[WatchedPage, ChatPeer]:
    """The page joined as alice and a Python v2 client joined as bob, both in room-1."""
    alice = await open_page(**page_options)
    await join(alice.page, "alice")
    bob = await ChatPeer.open(server.url)
    assert (await bob.join("bob", "room-1"))["type"] == "welcome"
    return alice, bob


async def say(page: Page, text: str) -> None:
    await page.fill("#msgInput", text)
    await page.press("#msgInput", "Enter")


async def eventually(condition, timeout: float = 5.0) -> None:
    """Wait until a Python-side condition on recorded events holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.05)


async def record_statuses(page: Page) -> None:
    """Log every data-status a bubble takes, so a fast acknowledgement cannot hide 'pending'."""
    await page.evaluate(
        """() => {
        window.__statuses = [];
        new MutationObserver((changes) => {
          for (const change of changes) {
            if (change.attributeName === 'data-status') {
              window.__statuses.push(change.target.dataset.status);
            }
          }
        }).observe(document.body, {subtree: true, attributes: true, attributeFilter: ['data-status']});
    }"""
    )


async def log_ids(page: Page) -> list[int]:
    return await page.eval_on_selector_all(
        "#log .msg[data-id]", "nodes => nodes.map(node => Number(node.dataset.id))"
    )


def test_two_pages_chat_own_right_others_left_pending_then_delivered(run, open_page):
    async def scenario():
        alice, bob = await open_page(), await open_page()
        await join(alice.page, "alice")
        await join(bob.page, "bob")
        await record_statuses(alice.page)
        await say(alice.page, "Hello Bob, see https://example.com/docs.")
        own = alice.page.locator("#log .msg.self", has_text="Hello Bob")
        await expect(own).to_have_attribute("data-status", "delivered")
        assert await alice.page.evaluate("window.__statuses") == ["sent", "delivered"]
        theirs = bob.page.locator("#log .msg.other", has_text="Hello Bob")
        await expect(theirs).to_have_count(1)
        assert await own.get_attribute("data-id") == await theirs.get_attribute("data-id")

        await say(bob.page, "Hello Alice, 房间里见")
        reply = alice.page.locator("#log .msg.other", has_text="房间里见")
        await expect(reply.locator(".from")).to_have_text("bob")
        await expect(reply.locator(".time")).not_to_be_empty()

        scroller = await alice.page.locator("#scroller").bounding_box()
        own_box, reply_box = await own.bounding_box(), await reply.bounding_box()
        assert own_box["x"] + own_box["width"] > scroller["x"] + scroller["width"] - 30
        assert reply_box["x"] < scroller["x"] + 30
        assert own_box["x"] > reply_box["x"] + reply_box["width"] / 2
        await expect(alice.page.locator("#memberList .member-name")).to_have_text(["alice", "bob"])
        await alice.page.screenshot(path=str(ARTIFACTS / "web-desktop.png"))

    run(scenario())


def test_page_and_python_client_chat_both_ways(run, open_page, server):
    async def scenario():
        alice, peer = await page_with_peer(open_page, server)
        await peer.expect("history")
        await expect(alice.page.locator("#log .msg.system", has_text="bob joined")).to_have_count(1)

        await say(alice.page, "from the page")
        chat = await peer.expect("chat", content="from the page")
        assert chat["from"] == "alice" and "nonce" not in chat

        await peer.send(type="chat", content="from python\nsecond line", nonce="p1")
        ack = await peer.expect("chat", nonce="p1")
        bubble = alice.page.locator(f'#log .msg.other[data-id="{ack["id"]}"]')
        await expect(bubble.locator(".text")).to_have_text("from python\nsecond line")
        await peer.close()
        await expect(alice.page.locator("#log .msg.system", has_text="bob left")).to_have_count(1)
        await expect(alice.page.locator("#memberList .member-name")).to_have_text(["alice"])

    run(scenario())


def test_hostile_names_and_messages_render_as_text_and_run_nothing(run, open_page, server):
    async def scenario():
        watcher = await open_page()
        await join(watcher.page, HOSTILE_NAME)
        peer = await ChatPeer.open(server.url)
        assert (await peer.join(HOSTILE_IMG[:32], "room-1"))["type"] == "welcome"
        await peer.send(type="chat", content=HOSTILE_IMG)
        await peer.send(type="chat", content=HOSTILE_SCRIPT)
        await say(watcher.page, HOSTILE_SCRIPT)
        await say(watcher.page, HOSTILE_IMG)
        page = watcher.page
        for text in (HOSTILE_IMG, HOSTILE_SCRIPT):
            for side in ("self", "other"):
                bubble = page.locator(f"#log .msg.{side} .text", has_text=text)
                await expect(bubble).to_have_count(1)
                assert await bubble.text_content() == text
        await expect(page.locator("#log .msg.self .from").first).to_have_text(HOSTILE_NAME)
        await expect(page.locator("#log .msg.other .from").first).to_have_text(HOSTILE_IMG[:32])
        await expect(page.locator("#memberList .member-name")).to_have_count(2)
        assert await page.locator("#sidebar img, #chat img, #chat script").count() == 0
        await page.wait_for_timeout(200)  # time for an injected onerror to fire, if any
        assert await page.evaluate("typeof window.__pwned") == "undefined"
        await peer.close()

    run(scenario())


def test_links_only_for_http_and_https_built_safely(run, open_page, server):
    async def scenario():
        alice = await open_page()
        await join(alice.page, "alice")
        text = "docs https://example.com/a?b=1&c=2. bad javascript:alert(1) data:text/html,x http://x.test"
        await say(alice.page, text)
        bubble = alice.page.locator("#log .msg.self .text")
        await expect(bubble).to_have_text(text)
        links = bubble.locator("a")
        await expect(links).to_have_count(2)
        assert await links.evaluate_all("as => as.map(a => a.href)") == [
            "https://example.com/a?b=1&c=2",
            "http://x.test/",
        ]
        assert await links.evaluate_all("as => as.map(a => a.rel)") == ["noopener noreferrer"] * 2
        assert await links.evaluate_all("as => as.map(a => a.target)") == ["_blank"] * 2

    run(scenario())


def test_private_messages_reach_only_the_addressee_and_are_marked(run, open_page, server):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server)
        carol = await ChatPeer.open(server.url)
        await carol.join("carol", "room-1")
        page = alice.page
        await page.locator("#memberList .member", has_text="bob").click()
        await expect(page.locator("#privateBar")).to_have_text(
            "Private message to bob Back to the room"
        )
        await expect(page.locator("#msgInput")).to_be_focused()
        await say(page, "just for you")
        mine = page.locator("#log .msg.self.private")
        await expect(mine.locator(".tag")).to_have_text("Private to bob")
        await expect(mine).to_have_attribute("data-status", "delivered")
        received = await bob.expect("chat", content="just for you")
        assert received["to"] == "bob"
        await bob.send(type="chat", content="psst", to="alice")
        theirs = page.locator("#log .msg.other.private")
        await expect(theirs.locator(".tag")).to_have_text("Private from bob")
        assert [m for m in await carol.nothing() if m.get("type") == "chat"] == []
        await page.screenshot(path=str(ARTIFACTS / "web-private.png"))

        await page.click("#cancelPrivate")
        await expect(page.locator("#privateBar")).to_be_hidden()
        await say(page, "for everyone")
        assert "to" not in await carol.expect("chat", content="for everyone")

        await page.locator("#memberList .member", has_text="carol").click()
        await carol.close()
        await expect(
            page.locator("#log .msg.system", has_text="carol left, private mode ended")
        ).to_have_count(1)
        await expect(page.locator("#privateBar")).to_be_hidden()
        await bob.close()

    run(scenario())


def test_a_reloaded_page_still_sees_its_own_private_messages(run, open_page, server):
    """The resume secret is kept with the name, so private history survives a reload."""
    async def scenario():
        alice, bob = await page_with_peer(open_page, server)
        page = alice.page
        await page.locator("#memberList .member", has_text="bob").click()
        await say(page, "just for you")
        await expect(page.locator("#log .msg.self.private")).to_have_attribute("data-status", "delivered")
        await bob.expect("chat", content="just for you")
        await page.reload()
        await page.click("#joinBtn")  # name and room are remembered
        await expect(page.locator("#status")).to_have_class("online")
        await expect(page.locator("#log .msg.self.private .text")).to_have_text("just for you")
        await page.screenshot(path=str(ARTIFACTS / "web-reloaded-private.png"))
        await bob.close()

    run(scenario())


def test_typing_indicator_both_ways(run, open_page, server):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server)
        await bob.send(type="typing", active=True)
        await expect(alice.page.locator("#typing")).to_have_text("bob is typing…")
        await bob.send(type="typing", active=False)
        await expect(alice.page.locator("#typing")).to_have_text("")

        await alice.page.locator("#msgInput").press_sequentially("hel")
        assert (await bob.expect("typing", active=True))["from"] == "alice"
        await alice.page.press("#msgInput", "Enter")
        assert (await bob.expect("typing", active=False))["from"] == "alice"
        await bob.close()

    run(scenario())


def test_server_restart_page_resumes_without_loss_or_duplicates(run, open_page, server):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server)
        await bob.send(type="chat", content="before restart", nonce="b0")
        first = (await bob.expect("chat", nonce="b0"))["id"]
        await expect(alice.page.locator(f'#log .msg[data-id="{first}"]')).to_have_count(1)

        alice.server_down_on_purpose = True
        await server.stop_soon()
        await expect(alice.page.locator("#status")).to_have_class("offline")
        await server.start_again_soon()
        bob = await ChatPeer.open(server.url)
        await bob.join("bob", "room-1", since=first)
        missed = []
        for n in range(3):
            await bob.send(type="chat", content=f"while away {n}", nonce=f"w{n}")
            missed.append((await bob.expect("chat", nonce=f"w{n}"))["id"])
        assert len(alice.joins()) == 1, "the page rejoined before the missed messages were sent"

        await expect(alice.page.locator("#status")).to_have_class("online", timeout=8000)
        await bob.send(type="chat", content="after resume", nonce="a1")
        last = (await bob.expect("chat", nonce="a1"))["id"]
        await expect(alice.page.locator(f'#log .msg[data-id="{last}"]')).to_have_count(1)
        assert await log_ids(alice.page) == [first, *missed, last]
        rejoin = alice.joins()[-1]
        assert rejoin["since"] == first and rejoin["resume"]
        await expect(
            alice.page.locator("#log .msg.system", has_text="Reconnected to room-1")
        ).to_have_count(1)
        await bob.close()

    run(scenario())


def test_a_long_absence_says_older_messages_were_left_out(run, open_page, server):
    from server.hub import RESUME_MAX
    from server.protocol import ChatRecord
    from server.store import HistoryStore

    async def scenario():
        alice = await open_page()
        await join(alice.page, "alice")
        alice.server_down_on_purpose = True
        await server.stop_soon()
        await expect(alice.page.locator("#status")).to_have_class("offline")
        store = HistoryStore(server.data_dir / "history.sqlite3", retention=0)
        store.append_batch(
            [ChatRecord(i, "room-1", "bob", f"missed {i}", 0) for i in range(1, RESUME_MAX + 11)]
        )
        store.close()
        await server.start_again_soon()
        await expect(alice.page.locator("#status")).to_have_class("online", timeout=8000)
        await expect(
            alice.page.locator("#log .msg.system", has_text="only the newest 1,000 messages")
        ).to_have_count(1)
        # the history is drawn in slices (frame_queue.js): wait for all of it
        await expect(alice.page.locator("#log .msg[data-id]")).to_have_count(RESUME_MAX)
        ids = await log_ids(alice.page)
        assert ids == list(range(11, RESUME_MAX + 11))

    run(scenario())


def test_a_history_reset_on_the_server_is_said_and_new_ids_shown(run, open_page, server):
    """The server's store came back empty: the page says so and shows the new id 1."""

    async def scenario():
        alice = await open_page()
        await join(alice.page, "alice")
        for text in ("one", "two"):
            await say(alice.page, text)
        await expect(alice.page.locator('#log .msg.self[data-status="delivered"]')).to_have_count(2)
        alice.server_down_on_purpose = True
        await server.stop_soon()
        await expect(alice.page.locator("#status")).to_have_class("offline")
        for leftover in server.data_dir.glob("*.sqlite3*"):
            leftover.unlink()
        await server.start_again_soon()
        await expect(alice.page.locator("#status")).to_have_class("online", timeout=8000)
        await expect(alice.page.locator("#log .msg.system", has_text="lost this room's history")).to_have_count(1)
        await say(alice.page, "three")
        three = alice.page.locator('#log .msg.self[data-status="delivered"]', has_text="three")
        await expect(three).to_have_count(1)
        assert (await log_ids(alice.page))[-1] == 1

    run(scenario())


def test_messages_typed_offline_are_queued_then_delivered(run, open_page, server):
    async def scenario():
        alice = await open_page()
        await join(alice.page, "alice")
        page = alice.page
        alice.server_down_on_purpose = True
        await server.stop_soon()
        await expect(page.locator("#status")).to_have_class("offline")
        await say(page, "queued one")
        await say(page, "queued two")
        queued = page.locator("#outbox .msg.self")
        await expect(queued).to_have_count(2)
        assert await queued.evaluate_all("ns => ns.map(n => n.dataset.status)") == [
            "queued",
            "queued",
        ]
        await page.screenshot(path=str(ARTIFACTS / "web-offline.png"))

        await server.start_again_soon()
        delivered = page.locator('#log .msg.self[data-status="delivered"]')
        await expect(delivered).to_have_count(2, timeout=8000)
        await expect(page.locator("#outbox .msg")).to_have_count(0)
        await expect(delivered.locator(".text")).to_have_text(["queued one", "queued two"])

        bob = await ChatPeer.open(server.url)
        await bob.join("bob", "room-1")
        history = (await bob.expect("history"))["messages"]
        assert [m["content"] for m in history] == ["queued one", "queued two"]
        assert await log_ids(page) == [m["id"] for m in history]
        await bob.close()

    run(scenario())


def test_refused_send_is_marked_failed_and_retry_delivers(run, open_page, tmp_path):
    async def scenario():
        strict = RestartableServer(tmp_path / "strict", rate_limit=2.0, rate_burst=3)
        try:
            alice = await open_page(origin=strict.origin)
            page = alice.page
            await join(page, "alice")
            sent = [f"burst {n}" for n in range(6)]
            for text in sent:
                await say(page, text)
            failed = page.locator('#outbox .msg.self[data-status="failed"]')
            await expect(failed.first.locator(".msg-error span")).to_have_text(
                "Not sent: You are sending too fast; wait a moment and retry."
            )
            while await failed.count():
                await page.wait_for_timeout(600)
                await failed.first.locator("button.retry").click()
                await expect(page.locator("#outbox .msg[data-status=sent]")).to_have_count(0)
            delivered = await page.locator("#log .msg.self .text").all_text_contents()
            assert sorted(delivered) == sent
        finally:
            await strict.stop_soon()

    run(scenario())


def test_refused_join_says_why_in_plain_words(run, open_page, server):
    async def scenario():
        first, second = await open_page(), await open_page()
        await join(first.page, "alice")
        await second.page.fill("#userId", "ALICE")
        await second.page.click("#joinBtn")
        await expect(second.page.locator("#formError")).to_have_text(
            "That name is already taken in this room; please choose another."
        )
        await expect(second.page.locator("#joinBtn")).to_be_enabled()
        await expect(second.page.locator("#msgInput")).to_be_disabled()

        await second.page.fill("#userId", "  ")
        await second.page.click("#joinBtn")
        await expect(second.page.locator("#formError")).to_have_text("Please enter a name.")

    run(scenario())


def test_room_key_from_the_page_url(run, open_page, tmp_path, server):
    async def scenario():
        locked = RestartableServer(tmp_path / "locked", key="s3cret")
        try:
            visitor = await open_page(origin=locked.origin)
            await visitor.page.fill("#userId", "mallory")
            await visitor.page.click("#joinBtn")
            await expect(visitor.page.locator("#formError")).to_have_text(
                "This server needs a valid room key; open the link with the right ?key=."
            )
            await visitor.page.goto(f"{locked.origin}/?key=s3cret")
            await join(visitor.page, "alice")
            assert visitor.joins()[-1]["key"] == "s3cret"
        finally:
            locked.stop()

    run(scenario())


def test_leave_button_leaves_and_join_again_catches_up(run, open_page, server):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server)
        await alice.page.click("#leaveBtn")
        await bob.expect("system", event="leave", userId="alice")
        await expect(alice.page.locator("#joinBtn")).to_be_visible()
        await expect(alice.page.locator("#status")).to_have_class("idle")
        await bob.send(type="chat", content="said while alice was away")
        await alice.page.click("#joinBtn")
        await expect(alice.page.locator("#log .msg.other .text")).to_have_text(
            ["said while alice was away"]
        )
        await bob.close()

    run(scenario())


def test_input_keys_focus_and_remembered_name(run, open_page):
    async def scenario():
        alice = await open_page()
        page = alice.page
        await join(page, "alice", "lobby")
        await expect(page.locator("#msgInput")).to_be_focused()
        await page.locator("#msgInput").press_sequentially("line one")
        await page.keyboard.press("Shift+Enter")
        await page.keyboard.type("line two")
        await expect(page.locator("#log .msg.self")).to_have_count(0)
        await page.keyboard.press("Enter")
        await expect(page.locator("#log .msg.self .text")).to_have_text("line one\nline two")
        await expect(page.locator("#msgInput")).to_have_value("")
        await page.reload()
        await expect(page.locator("#userId")).to_have_value("alice")
        await expect(page.locator("#room")).to_have_value("lobby")

    run(scenario())


def test_new_messages_badge_when_scrolled_up(run, open_page, server):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server)
        page = alice.page
        for n in range(30):
            await bob.send(type="chat", content=f"filler {n}")
        await expect(page.locator("#log .msg.other")).to_have_count(30)
        await page.eval_on_selector("#scroller", "s => { s.scrollTop = 0; }")
        await bob.send(type="chat", content="new one")
        await bob.send(type="chat", content="new two")
        await bob.expect("chat", content="new two")  # drain its copies so close() is quick
        badge = page.locator("#newMessages")
        await expect(badge).to_have_text("2 new messages ↓")
        await badge.click()
        await expect(badge).to_be_hidden()
        assert await page.eval_on_selector(
            "#scroller", "s => s.scrollHeight - s.scrollTop - s.clientHeight < 48"
        )
        await bob.close()

    run(scenario())


@pytest.mark.parametrize(
    ("locale", "title", "join_label", "welcome"),
    [
        ("zh-CN", "聊天室", "加入房间", "已加入房间「room-1」,当前 1 人在线"),
        ("en-US", "RoomChat", "Join room", "You joined room-1 · 1 online"),
    ],
    ids=["zh-CN", "en-US"],
)
def test_language_follows_the_browser_locale(run, open_page, locale, title, join_label, welcome):
    async def scenario():
        visitor = await open_page(locale=locale)
        page = visitor.page
        await expect(page.locator("#title")).to_have_text(title)
        assert await page.title() == title
        await expect(page.locator("#joinBtn")).to_have_text(join_label)
        await join(page, "alice")
        await expect(page.locator("#log .msg.system").first).to_have_text(welcome)

    run(scenario())


def test_phone_width_layout_is_usable(run, open_page, server):
    async def scenario():
        phone, bob = await page_with_peer(open_page, server, viewport=PHONE)
        page = phone.page
        await bob.send(type="chat", content="a" * 300 + " https://example.com/" + "b" * 200)
        await say(page, "Hi from a phone, 手机上也能用")
        await expect(page.locator("#log .msg.self")).to_have_attribute("data-status", "delivered")
        await expect(page.locator("#log .msg.other")).to_have_count(1)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        assert await page.eval_on_selector("#scroller", "s => s.scrollWidth <= s.clientWidth")
        for selector in ("#msgInput", "#sendBtn", "#leaveBtn"):
            box = await page.locator(selector).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], selector
            assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], selector
        sidebar = await page.locator("#sidebar").bounding_box()
        chat = await page.locator("#chat").bounding_box()
        assert sidebar["y"] + sidebar["height"] <= chat["y"] + 1
        await page.screenshot(path=str(ARTIFACTS / "web-phone.png"))
        await bob.close()

    run(scenario())


def test_missing_pong_counts_as_dead_connection_and_page_reconnects(run, open_page):
    async def scenario():
        alice = await open_page(fake_clock=True)
        page = alice.page
        connections, swallow_pongs, pongs = [], [False], []

        def relay(route) -> None:
            """Pass frames both ways, except pongs once the test says so."""
            upstream = route.connect_to_server()
            connections.append(route)

            def to_page(message) -> None:
                is_pong = json.loads(message).get("type") == "pong"
                if is_pong:
                    pongs.append(swallow_pongs[0])
                if not (is_pong and swallow_pongs[0]):
                    route.send(message)

            upstream.on_message(to_page)

        await page.route_web_socket(alice.socket_origin, relay)
        await join(page, "alice")
        status = page.locator("#status")

        await page.clock.fast_forward(30_000)  # first heartbeat, answered
        await eventually(lambda: pongs == [False])
        await page.clock.fast_forward(15_000)
        await expect(status).to_have_class("online")

        swallow_pongs[0] = True
        await page.clock.fast_forward(15_000)  # second heartbeat, its pong is lost
        await eventually(lambda: pongs == [False, True])
        await page.clock.fast_forward(9_000)
        await expect(status).to_have_class("online")
        await page.clock.fast_forward(1_500)
        await expect(status).to_have_class("offline")
        assert len(connections) == 1
        swallow_pongs[0] = False
        await page.clock.fast_forward(1_500)  # the first retry comes after about 1 s
        await expect(status).to_have_class("online")
        assert len(connections) == 2
        pings = [frame for frame in alice.sent_frames if frame.get("type") == "ping"]
        assert len(pings) == 2
        assert alice.joins()[-1]["resume"]

    run(scenario())


def test_reconnect_never_gives_up_silently(run, open_page, server):
    async def scenario():
        alice = await open_page(fake_clock=True)
        page = alice.page
        await join(page, "alice")
        alice.server_down_on_purpose = True
        await server.stop_soon()
        status = page.locator("#status")
        for attempt in range(1, 11):
            await expect(status).to_contain_text(f"(try {attempt})")
            await expect(page.locator("#retryBtn")).to_be_hidden()
            await page.clock.fast_forward(31_000)
        gave_up = "Could not reconnect. Still trying every 30 s."
        await expect(status).to_have_text(gave_up)
        await expect(page.locator("#retryBtn")).to_be_visible()
        assert len(alice.socket_urls) == 11  # the first connection and ten failed tries
        await page.clock.fast_forward(31_000)  # it keeps trying after the notice
        await eventually(lambda: len(alice.socket_urls) == 12)
        await expect(status).to_have_text(gave_up)
        await server.start_again_soon()
        await page.click("#retryBtn")
        await expect(status).to_have_class("online")
        await expect(page.locator("#retryBtn")).to_be_hidden()

    run(scenario())


def test_leave_while_reconnecting_stops_trying(run, open_page, server):
    async def scenario():
        alice = await open_page()
        page = alice.page
        await join(page, "alice")
        alice.server_down_on_purpose = True
        await server.stop_soon()
        await expect(page.locator("#status")).to_have_class("offline")
        await expect(page.locator("#memberList .presence").first).to_have_css(
            "background-color", "rgb(107, 107, 133)"
        )
        await page.click("#leaveBtn")
        await expect(page.locator("#status")).to_have_class("idle")
        await expect(page.locator("#joinBtn")).to_be_enabled()
        tries = len(alice.socket_urls)
        await page.wait_for_timeout(1600)  # past the first retry's longest jittered wait
        assert len(alice.socket_urls) == tries

    run(scenario())
