"""The served page in Chromium as a guest of a hostile host (tests/hostile_host.py serves the
real page, then misbehaves on the websocket): no page error, bounded DOM, member list and
heap, nothing active from the server, and a link opens only after a confirmation that shows
its full target. The page's longest task is measured and printed, not yet held to 100 ms
(see docs/protocol.md: the page still renders a whole history frame in one task).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from conftest import ARTIFACTS
from hostile_host import LINKS, HostileHost
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HEAP_LIMIT_MIB = 300

expect.set_options(timeout=20_000)

# Longest main-thread task, measured inside the page by a 5 ms timer's lateness.
WATCH_STALLS = """
window.__worstStall = 0;
(() => {
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    window.__worstStall = Math.max(window.__worstStall, now - last - 5);
    last = now;
  }, 5);
})();
"""


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def browser(loop) -> Iterator[Browser]:
    playwright = loop.run_until_complete(async_playwright().start())
    browser = loop.run_until_complete(
        playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS))
    yield browser
    loop.run_until_complete(browser.close())
    loop.run_until_complete(playwright.stop())


def visit(loop, browser, behaviour: str, scenario, *, wait_for: str):
    """Open the page on a host doing ``behaviour``, join, wait for ``wait_for`` text, run scenario."""

    async def body():
        with HostileHost(behaviour) as host:
            context = await browser.new_context(viewport={"width": 1000, "height": 640})
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.add_init_script(WATCH_STALLS)
            await page.goto(host.page)
            await page.fill("#userId", "guest")
            await page.fill("#room", "room-1")
            await asyncio.sleep(0.3)
            await page.evaluate("window.__worstStall = 0")  # page load itself is not the host's doing
            await page.click("#joinBtn")
            await expect(page.locator("#log")).to_contain_text(wait_for)
            await asyncio.sleep(0.5)
            worst = await page.evaluate("window.__worstStall")
            heap = (await page.evaluate("performance.memory.usedJSHeapSize")) / 2**20
            nodes = await page.evaluate("document.getElementsByTagName('*').length")
            print(f"\npage vs {behaviour}: longest task {worst:.0f} ms, JS heap {heap:.0f} MiB, {nodes} elements")
            try:
                await scenario(page)
            finally:
                await context.close()
            assert errors == [], errors
            assert heap < HEAP_LIMIT_MIB

    loop.run_until_complete(asyncio.wait_for(body(), 120))


async def nothing(page: Page) -> None:
    pass


def test_garbage_and_wrong_types_leave_the_page_working(loop, browser):
    visit(loop, browser, "garbage", nothing, wait_for="still talking after garbage")
    visit(loop, browser, "wrong_types", nothing, wait_for="still talking after wrong types")


def test_a_member_list_of_100000_names_is_cut(loop, browser):
    async def check(page: Page) -> None:
        assert await page.locator("#memberList li").count() <= 1000

    visit(loop, browser, "huge_members", check, wait_for="after 100,000 members")


def test_markup_stays_text_and_links_open_only_after_showing_their_target(loop, browser):
    async def check(page: Page) -> None:
        assert await page.evaluate("window.__pwned === undefined")
        assert await page.locator("#log script, #log img, #log b, #log iframe").count() == 0
        hrefs = await page.locator("#log a").evaluate_all("links => links.map(a => a.href)")
        assert set(hrefs) == {url for url, clickable in LINKS.items() if clickable}
        senders = await page.locator("#log .from").all_inner_texts()
        assert not any(ch in "".join(senders) for ch in "\u202e\u200b\u200d\u2066\u2069\u200f")
        asked: list[str] = []

        async def answer(dialog) -> None:
            asked.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", answer)
        pages_before = len(page.context.pages)
        await page.locator("#log a").first.click()
        await asyncio.sleep(0.3)
        assert asked and "https://example.com/path?q=1" in asked[0]
        assert len(page.context.pages) == pages_before, "dismissed: nothing opened"
        await page.screenshot(path=str(ARTIFACTS / "hostile-page-nasty-text.png"))

    ARTIFACTS.mkdir(exist_ok=True)
    visit(loop, browser, "nasty_text", check, wait_for="link: https://example.com/path?q=1")
