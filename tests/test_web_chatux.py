"""The browser page's side of issue 14 (newcomer's rough edges), in headless Chromium."""

from __future__ import annotations

from conftest import ARTIFACTS, ChatPeer
from playwright.async_api import expect
from test_web_page import (  # noqa: F401 (fixtures)
    artifacts_dir,
    browser,
    join,
    loop,
    open_page,
    page_with_peer,
    run,
    say,
    server,
)


def test_counter_near_the_limit_and_refusal_before_sending(run, open_page, server):
    async def scenario():
        for locale, over_text in (("en-US", "Too long: 4001 / 4000, remove 1"),
                                  ("zh-CN", "太长了:4001 / 4000,请删去 1 个字符")):
            seen = await open_page(locale=locale)
            page = seen.page
            await join(page, "alice" + locale[:2])
            counter = page.locator("#charCounter")
            await page.fill("#msgInput", "x" * 3499)
            await expect(counter).to_be_hidden()
            await page.fill("#msgInput", "x" * 3999)
            await expect(counter).to_have_text("3999 / 4000")
            await page.fill("#msgInput", "😀" * 4001)  # 8002 UTF-16 units, 4001 characters
            await expect(counter).to_have_text(over_text)
            await expect(counter).to_have_class("over")
            await expect(page.locator("#sendBtn")).to_be_disabled()
            await page.press("#msgInput", "Enter")
            await page.wait_for_timeout(200)
            assert [f for f in seen.sent_frames if f.get("type") == "chat"] == [], "nothing sent"
            await expect(page.locator("#outbox .msg")).to_have_count(0)
            await page.screenshot(path=str(ARTIFACTS / f"web-counter-{locale[:2]}.png"))
            await page.press("#msgInput", "End")
            await page.press("#msgInput", "Backspace")
            await expect(counter).to_have_text("4000 / 4000")
            await page.press("#msgInput", "Enter")
            await expect(page.locator("#log .msg.self")).to_have_count(1)
            await expect(counter).to_be_hidden()

    run(scenario())


def test_a_final_refusal_offers_no_useless_retry(run, open_page, server):
    async def scenario():
        seen = await open_page(locale="zh-CN")
        page = seen.page
        await join(page, "alice")
        # As if the server's limit were lower than the page's: it refuses with too_long.
        await page.evaluate("""() => { window.__realSend = WebSocket.prototype.send;
            WebSocket.prototype.send = function (data) {
              const frame = JSON.parse(data);
              if (frame.type === 'chat') frame.content = 'y'.repeat(4001);
              return window.__realSend.call(this, JSON.stringify(frame)); }; }""")
        await say(page, "short")
        failed = page.locator("#outbox .msg.failed")
        await expect(failed).to_have_count(1)
        await expect(failed.locator(".msg-error")).to_contain_text("消息太长(最多 4000 个字符)")
        await expect(failed.locator("button.retry")).to_have_count(0)

    run(scenario())


def test_after_another_tab_took_over_and_closed_the_first_rejoins_with_its_private_history(
        run, open_page, server):
    async def scenario():
        first = (await open_page()).page
        await join(first, "alice")
        bob = await ChatPeer.open(server.url)
        await bob.join("bob", "room-1")
        await bob.send(type="chat", content="just for alice", to="alice")
        await expect(first.locator("#log .msg.private")).to_have_count(1)

        second = await first.context.new_page()  # same browser profile: same localStorage
        await second.goto(server.origin + "/")
        await join(second, "alice")
        await expect(second.locator("#log .msg.private")).to_have_count(1)
        await expect(first.locator("#joinBtn")).to_be_visible()  # the first tab was replaced
        await bob.send(type="chat", content="while you were away", to="alice")
        await expect(second.locator("#log .msg.private")).to_have_count(2)
        await second.close()

        await first.click("#joinBtn")
        await expect(first.locator("#status")).to_have_class("online")
        await expect(first.locator("#log .msg.private", has_text="while you were away")).to_have_count(1)
        await bob.close()

    run(scenario())


def colourful_pixels(png: bytes) -> int:
    """Pixels of a screenshot with a strong colour (an emoji; bubbles and text are grey/white)."""
    from PySide6.QtGui import QColor, QImage

    image = QImage.fromData(png)
    return sum(QColor(image.pixel(x, y)).hsvSaturation() > 120 and QColor(image.pixel(x, y)).value() > 120
               for y in range(image.height()) for x in range(image.width()))


def test_emoji_render_in_colour_and_the_picker_inserts_at_the_caret(run, open_page, server):
    async def scenario():
        for locale, tip in (("en-US", "Insert an emoji"), ("zh-CN", "插入表情")):
            seen = await open_page(locale=locale)
            page = seen.page
            name, room = "alice", "emoji-" + locale[:2]
            await join(page, name, room)
            bob = await ChatPeer.open(server.url)
            await bob.join("bob", room)
            await bob.send(type="chat", content="party 😀😂😉😊 time")  # DejaVu has these in black
            bubble = page.locator("#log .msg.other", has_text="party")
            await expect(bubble).to_have_count(1)
            assert colourful_pixels(await bubble.locator(".text").screenshot()) > 40, \
                "emoji drawn in colour, not as outlines or boxes"

            button, panel = page.locator("#emojiBtn"), page.locator("#emojiPanel")
            await expect(button).to_have_attribute("title", tip)
            await page.fill("#msgInput", "see you ")
            await button.click()
            await expect(panel).to_be_visible()
            await expect(panel.locator(".emoji-choice")).to_have_count(40)
            await panel.locator(".emoji-choice", has_text="👋").click()
            await panel.locator(".emoji-choice", has_text="🚀").click()
            await expect(panel).to_be_visible()  # non-modal: it stays for more
            await expect(page.locator("#msgInput")).to_have_value("see you 👋🚀")
            await page.screenshot(path=str(ARTIFACTS / f"web-emoji-{locale[:2]}.png"))
            await page.keyboard.press("Escape")
            await expect(panel).to_be_hidden()
            await page.press("#msgInput", "Enter")
            got = await bob.expect("chat", content="see you 👋🚀")
            assert got["from"] == name
            await bob.close()

    run(scenario())


AWAY = """(hidden) => {  // the tab goes to the background / comes back (headless tabs never do)
  Object.defineProperty(document, 'hidden', {value: hidden, configurable: true});
  document.hasFocus = () => !hidden;
  document.dispatchEvent(new Event('visibilitychange'));
}"""
RECORD_NOTIFICATIONS = """() => {
  window.__notifications = [];
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) { super(title, options); window.__notifications.push([title, options.body]); }
  };
}"""


def test_at_completes_members_and_a_mention_is_marked_and_notifies(run, open_page, server, browser):
    async def scenario():
        for locale, by, line, title in (("en-US", "bob mentioned you", "New messages", "RoomChat"),
                                         ("zh-CN", "bob 提到了你", "以下为新消息", "聊天室")):
            room = "mention-" + locale[:2]
            seen = await open_page(locale=locale)
            page = seen.page
            await page.context.grant_permissions(["notifications"], origin=server.origin)
            await page.evaluate(RECORD_NOTIFICATIONS)
            await join(page, "alice", room)
            bob, bobby = await ChatPeer.open(server.url), await ChatPeer.open(server.url)
            await bob.join("bob", room)
            await bobby.join("Bobby", room)
            await expect(page.locator("#memberList .member-name")).to_have_count(3)

            await page.fill("#msgInput", "")
            await page.locator("#msgInput").press_sequentially("hi @bo")
            options = page.locator("#mentionList .mention-option")
            await expect(options).to_have_text(["bob", "Bobby"])
            await page.press("#msgInput", "ArrowDown")
            await expect(page.locator("#mentionList .mention-option.current")).to_have_text("Bobby")
            await page.screenshot(path=str(ARTIFACTS / f"web-mention-list-{locale[:2]}.png"))
            await page.press("#msgInput", "Enter")
            await expect(page.locator("#msgInput")).to_have_value("hi @Bobby ")
            await expect(page.locator("#mentionList")).to_be_hidden()
            assert not [f for f in seen.sent_frames if f.get("type") == "chat"], "Enter picked, not sent"
            await page.press("#msgInput", "Enter")
            await bobby.expect("chat", content="hi @Bobby ")

            await page.evaluate(AWAY, True)
            await bob.send(type="chat", content="lunch?")
            await expect(page).to_have_title("(1) " + title)
            await bob.send(type="chat", content="@Alice can you look at this?")
            mention = page.locator("#log .msg.other.mention")
            await expect(mention).to_have_count(1)
            await expect(mention.locator("mark.mention-name")).to_have_text("@Alice")
            await expect(page).to_have_title("(@2) " + title)
            await page.wait_for_function("window.__notifications.length === 1")
            assert await page.evaluate("window.__notifications") == [[by, "@Alice can you look at this?"]]
            marker = page.locator("#log .unread-marker")
            await expect(marker).to_have_text(line)
            following = marker.locator("xpath=following-sibling::div[1]")
            await expect(following).to_contain_text("lunch?")
            await page.evaluate(AWAY, False)
            await expect(page).to_have_title(title)
            await expect(marker).to_have_count(1)  # the line stays while reading
            await page.screenshot(path=str(ARTIFACTS / f"web-mention-unread-{locale[:2]}.png"))

            await page.evaluate(AWAY, True)  # away again: the line moves to the new first unread
            await bob.send(type="chat", content="one more")
            await expect(marker).to_have_count(1)
            await expect(marker.locator("xpath=following-sibling::div[1]")).to_contain_text("one more")
            await bob.close()
            await bobby.close()

    run(scenario())


def test_a_reconnect_marks_the_first_missed_message(run, open_page, server):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server)
        await bob.send(type="chat", content="before restart")
        await expect(alice.page.locator("#log .msg.other")).to_have_count(1)
        await expect(alice.page.locator("#log .unread-marker")).to_have_count(0)
        alice.server_down_on_purpose = True
        await server.stop_soon()
        await expect(alice.page.locator("#status")).to_have_class("offline")
        await server.start_again_soon()
        bob = await ChatPeer.open(server.url)
        await bob.join("bob", "room-1")
        await bob.send(type="chat", content="while you were away")
        await bob.expect("chat")
        await expect(alice.page.locator("#status")).to_have_class("online", timeout=8000)
        marker = alice.page.locator("#log .unread-marker")
        await expect(marker).to_have_count(1)
        await expect(marker.locator("xpath=following-sibling::div[1]")).to_contain_text(
            "while you were away")
        await bob.send(type="chat", content="live, and looked at")
        await expect(alice.page.locator("#log .msg.other")).to_have_count(3)
        await expect(marker).to_have_count(1)  # a message while looking moves nothing
        await bob.close()

    run(scenario())


def test_at_600_by_400_the_page_folds_its_sidebar_and_clips_nothing(run, open_page, server):
    async def scenario():
        for locale in ("en-US", "zh-CN"):
            seen = await open_page(locale=locale, viewport={"width": 600, "height": 400})
            page = seen.page
            await join(page, "alice", "narrow-" + locale[:2])
            await page.fill("#msgInput", "")
            clipped = await page.evaluate("""() => {
              const bad = [];
              for (const el of document.querySelectorAll('#sidebar *, #chat > *, #composer *')) {
                const box = el.getBoundingClientRect();
                if (!box.width || getComputedStyle(el).visibility === 'hidden') continue;
                if (el.closest('[hidden]') || el.closest('#memberList')) continue;
                if (box.left < -0.5 || box.right > innerWidth + 0.5) bad.push(el.id || el.className);
                if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible'
                    && el.children.length === 0) bad.push('overflows: ' + (el.id || el.className));
              }
              return bad;
            }""")
            assert clipped == []
            chat = await page.locator("#chat").bounding_box()
            assert chat["width"] == 600, "the chat takes the whole width; the sidebar is a bar above"
            for selector in ("#msgInput", "#emojiBtn", "#sendBtn"):
                box = await page.locator(selector).bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= 600 and box["y"] + box["height"] <= 400
            await page.screenshot(path=str(ARTIFACTS / f"web-narrow-{locale[:2]}.png"))

    run(scenario())
