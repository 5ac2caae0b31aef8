"""Replies, edits, deletions and search on the served page, in headless Chromium, both languages."""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, ChatPeer
from playwright.async_api import expect
from test_web_page import (  # noqa: F401 (fixtures)
    artifacts_dir,
    browser,
    eventually,
    join,
    loop,
    open_page,
    page_with_peer,
    run,
    say,
    server,
)

LANGUAGES = [("en-US", "en"), ("zh-CN", "zh")]
TEXT = {
    "en": {"replying": "Replying to bob: lunch at noon?", "edited": "(edited)", "deleted": "Message deleted",
           "not_loaded": "That message is older than the history loaded on this page.",
           "found": "2 messages found (newest first)", "none": "No messages found.", "search": "🔍 Search"},
    "zh": {"replying": "回复 bob:lunch at noon?", "edited": "(已编辑)", "deleted": "消息已删除",
           "not_loaded": "这条消息比本页已加载的历史更早。",
           "found": "找到 2 条消息(最新的在前)", "none": "没有找到消息。", "search": "🔍 搜索"},
}


async def fill(server, count: int, text: str) -> None:
    """``count`` messages from helpers (each under the per-connection burst of 40)."""
    for start in range(0, count, 30):
        helper = await ChatPeer.open(server.url)
        await helper.join(f"helper{start}", "room-1")
        for i in range(start, min(count, start + 30)):
            await bob_says(helper, f"{text} {i}")
        await helper.close()


async def bob_says(bob: ChatPeer, content: str, **extra) -> dict:
    await bob.send(type="chat", content=content, nonce=content[:20], **extra)
    return await bob.expect("chat", nonce=content[:20])


@pytest.mark.parametrize("locale,lang", LANGUAGES)
def test_reply_with_the_hover_button_quotes_and_jumps_to_the_original(run, open_page, server, locale, lang):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server, locale=locale)
        page = alice.page
        original = await bob_says(bob, "lunch at noon?\nI'll book a table")
        for i in range(25):  # enough to scroll the original out of view
            await bob_says(bob, f"chatter {i}")
        bubble = page.locator(f'#log .msg[data-id="{original["id"]}"]')
        await bubble.scroll_into_view_if_needed()
        await bubble.hover()
        await bubble.locator(".act-reply").click()
        await expect(page.locator("#actionBar")).to_have_text(TEXT[lang]["replying"] + "×")
        await page.screenshot(path=str(ARTIFACTS / f"web-replying-{lang}.png"))
        await say(page, "yes, 12:00 works")
        reply = page.locator("#log .msg.self", has_text="yes, 12:00 works")
        await expect(reply).to_have_attribute("data-status", "delivered")
        await expect(reply.locator(".quote-from")).to_have_text("bob")
        await expect(reply.locator(".quote-text")).to_have_text("lunch at noon?")
        await expect(page.locator("#actionBar")).to_be_hidden()
        sent = [f for f in alice.sent_frames if f.get("type") == "chat"][-1]
        assert sent["replyTo"] == original["id"]
        got = await bob.expect("chat", content="yes, 12:00 works")
        assert got["replyTo"] == {"id": original["id"], "from": "bob", "excerpt": "lunch at noon?"}
        await page.screenshot(path=str(ARTIFACTS / f"web-reply-{lang}.png"))
        # The quote scrolls to the original and flashes it.
        await page.locator("#scroller").evaluate("s => s.scrollTop = s.scrollHeight")
        await reply.locator(".quote").click()
        await expect(bubble).to_have_class("msg other flash")
        await expect(bubble).to_be_in_viewport()
        # A page that joins later gets both from history: the quote works there too.
        carol = await open_page(locale=locale)
        await join(carol.page, "carol")
        again = carol.page.locator("#log .msg", has_text="yes, 12:00 works")
        await expect(again.locator(".quote-text")).to_have_text("lunch at noon?")
        await again.locator(".quote").click()
        await expect(carol.page.locator(f'#log .msg[data-id="{original["id"]}"]')).to_be_in_viewport()

    run(scenario())


def test_a_quote_of_a_message_older_than_the_loaded_history_says_so(run, open_page, server):
    async def scenario():
        bob = await ChatPeer.open(server.url)
        await bob.join("bob", "room-1")
        first = await bob_says(bob, "the very first message")
        await fill(server, 55, "filler")
        await bob_says(bob, "about that first one", replyTo=first["id"])
        seen = await open_page()
        page = seen.page
        await join(page, "alice")
        reply = page.locator("#log .msg", has_text="about that first one")
        await expect(reply.locator(".quote-text")).to_have_text("the very first message")
        await reply.locator(".quote").click()
        await expect(page.locator("#log .msg.system").last).to_have_text(TEXT["en"]["not_loaded"])

    run(scenario())


@pytest.mark.parametrize("locale,lang", LANGUAGES)
def test_edit_and_delete_own_messages_and_see_others_change_in_place(run, open_page, server, locale, lang):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server, locale=locale)
        page = alice.page
        await say(page, "teh plan is ready")
        pending = page.locator("#log .msg.self", has_text="teh plan")
        await expect(pending).to_have_attribute("data-status", "delivered")
        own = page.locator(f'#log .msg[data-id="{await pending.get_attribute("data-id")}"]')
        await own.hover()
        await own.locator(".act-edit").click()
        await expect(page.locator("#msgInput")).to_have_value("teh plan is ready")
        await expect(page.locator("#actionBar")).to_have_attribute("data-kind", "edit")
        await page.fill("#msgInput", "the plan is ready")
        await page.press("#msgInput", "Enter")
        await expect(own.locator(".text")).to_have_text("the plan is ready")
        await expect(own.locator(".edited")).to_have_text(TEXT[lang]["edited"])
        assert (await bob.expect("edit"))["content"] == "the plan is ready"
        await expect(page.locator("#log .msg.self")).to_have_count(1)  # edited in place, no new bubble
        # Bob's message: a reply button, no edit or delete.
        theirs_ack = await bob_says(bob, "bob's note")
        theirs = page.locator(f'#log .msg[data-id="{theirs_ack["id"]}"]')
        await theirs.hover()
        await expect(theirs.locator(".act-reply")).to_be_visible()
        await expect(theirs.locator(".act-edit, .act-delete")).to_have_count(0)
        # Alice quotes bob's note; bob edits, then deletes it: both show in place.
        await theirs.locator(".act-reply").click()
        await say(page, "noted")
        await expect(page.locator("#log .msg.self", has_text="noted").locator(".quote")).to_have_count(1)
        await bob.send(type="edit", id=theirs_ack["id"], content="bob's note, revised", nonce="e")
        await expect(theirs.locator(".text")).to_have_text("bob's note, revised")
        await expect(theirs.locator(".edited")).to_be_visible()
        await page.screenshot(path=str(ARTIFACTS / f"web-edited-{lang}.png"))
        await bob.send(type="delete", id=theirs_ack["id"], nonce="d")
        await expect(theirs.locator(".text")).to_have_text(TEXT[lang]["deleted"])
        await expect(theirs).to_have_class("msg other deleted")
        quote = page.locator("#log .msg.self", has_text="noted").locator(".quote-text")
        await expect(quote).to_have_text(TEXT[lang]["deleted"])
        # Alice deletes her own, after confirming.
        await own.hover()
        await own.locator(".act-delete").click()
        await own.locator(".confirm-yes").click()
        await expect(own.locator(".text")).to_have_text(TEXT[lang]["deleted"])
        await expect(own.locator(".msg-actions")).to_have_count(0)
        await bob.expect("delete", target=int(await own.get_attribute("data-id")))
        await page.screenshot(path=str(ARTIFACTS / f"web-deleted-{lang}.png"))
        # A later page sees the current state from history.
        carol = await open_page(locale=locale)
        await join(carol.page, "carol")
        await expect(carol.page.locator("#log .msg.deleted")).to_have_count(2)
        assert "teh plan" not in await carol.page.content()

    run(scenario())


def test_edit_and_delete_are_offered_only_inside_the_servers_edit_window(run, open_page, server):
    server.stop()
    server.options = {"edit_window": 1.5}
    server.start_again()

    async def scenario():
        alice = await open_page()
        await join(alice.page, "alice")
        page = alice.page
        await say(page, "mine")
        own = page.locator("#log .msg.self", has_text="mine")
        await expect(own).to_have_attribute("data-status", "delivered")
        await own.hover()
        await expect(own.locator(".act-edit")).to_be_visible()
        await expect(own.locator(".act-delete")).to_be_visible()
        await page.mouse.move(0, 0)
        await page.wait_for_timeout(1700)
        await own.hover()
        await expect(own.locator(".act-reply")).to_be_visible()
        await expect(own.locator(".act-edit")).to_be_hidden()
        await expect(own.locator(".act-delete")).to_be_hidden()

    run(scenario())


def test_escape_cancels_an_edit_and_a_refused_edit_says_why(run, open_page, server):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server)
        page = alice.page
        await say(page, "mine")
        own = page.locator("#log .msg.self", has_text="mine")
        await expect(own).to_have_attribute("data-status", "delivered")
        await own.hover()
        await own.locator(".act-edit").click()
        await page.press("#msgInput", "Escape")
        await expect(page.locator("#actionBar")).to_be_hidden()
        await expect(page.locator("#msgInput")).to_have_value("")
        # The server refuses (as if the edit window had passed): the page says so.
        await page.evaluate("""() => { const send = WebSocket.prototype.send;
            WebSocket.prototype.send = function (data) {
              const frame = JSON.parse(data);
              if (frame.type === 'edit') frame.id = 999999;
              return send.call(this, JSON.stringify(frame)); }; }""")
        await own.hover()
        await own.locator(".act-edit").click()
        await page.fill("#msgInput", "changed")
        await page.press("#msgInput", "Enter")
        await expect(page.locator("#log .msg.system.error")).to_have_text(
            "Not changed: That message no longer exists.")
        await expect(own.locator(".text")).to_have_text("mine")

    run(scenario())


@pytest.mark.parametrize("locale,lang", LANGUAGES)
def test_search_lists_matches_and_jumps_to_them(run, open_page, server, locale, lang):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server, locale=locale)
        page = alice.page
        first = await bob_says(bob, "我们明天去北京开会")
        for i in range(30):
            await bob_says(bob, f"unrelated {i}")
        await bob_says(bob, "北京烤鸭 for lunch?")
        await expect(page.locator("#log .msg", has_text="北京烤鸭")).to_have_count(1)
        await expect(page.locator("#searchToggle")).to_have_text(TEXT[lang]["search"])
        await page.keyboard.press("Control+f")
        await expect(page.locator("#searchInput")).to_be_focused()
        await page.fill("#searchInput", "北京")
        await page.press("#searchInput", "Enter")
        await expect(page.locator("#searchStatus")).to_have_text(TEXT[lang]["found"])
        results = page.locator("#searchResults .result-text")
        await expect(results).to_have_text(["北京烤鸭 for lunch?", "我们明天去北京开会"])
        await expect(results.first.locator("mark")).to_have_text("北京")
        await page.screenshot(path=str(ARTIFACTS / f"web-search-{lang}.png"))
        await page.locator("#searchResults .result-open").nth(1).click()
        target = page.locator(f'#log .msg[data-id="{first["id"]}"]')
        await expect(target).to_have_class("msg other flash")
        await expect(target).to_be_in_viewport()
        await page.fill("#searchInput", "nothing like this")
        await page.press("#searchInput", "Enter")
        await expect(page.locator("#searchStatus")).to_have_text(TEXT[lang]["none"])
        await page.press("#searchInput", "Escape")
        await expect(page.locator("#searchPanel")).to_be_hidden()
        queries = [f["query"] for f in alice.sent_frames if f.get("type") == "search"]
        assert queries == ["北京", "nothing like this"]

    run(scenario())


def test_search_results_older_than_the_page_say_so_and_hostile_text_stays_text(run, open_page, server):
    async def scenario():
        bob = await ChatPeer.open(server.url)
        await bob.join("bob", "room-1")
        await bob_says(bob, "needle <img src=x onerror=window.__pwned=1>")
        await fill(server, 55, "hay")
        seen = await open_page()
        page = seen.page
        await join(page, "alice")
        await page.click("#searchToggle")
        await page.fill("#searchInput", "needle")
        await page.press("#searchInput", "Enter")
        result = page.locator("#searchResults .search-result")
        await expect(result.locator(".result-text")).to_have_text("needle <img src=x onerror=window.__pwned=1>")
        await result.locator(".result-open").click()
        await expect(result.locator(".result-note")).to_have_text(TEXT["en"]["not_loaded"])
        assert await page.evaluate("window.__pwned") is None
        assert await page.locator("#searchResults img").count() == 0

    run(scenario())
