"""The desktop app and the served page share files through one real server: 50 MiB each way
with the same SHA-256. The page runs in headless Debian Chromium, driven on a thread of its
own (its own asyncio loop), so the desktop's qasync loop is never stepped by Playwright."""

from __future__ import annotations

import asyncio
import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from playwright.async_api import async_playwright, expect  # noqa: E402

from desktop.models import DeliveryState, Kind  # noqa: E402
from server.files import MiB  # noqa: E402
from test_shared_files_desktop import (  # noqa: E402,F401
    file_items,
    file_sha,
    files_server,
    random_file,
    return_freed_memory,
)
from test_desktop_window import fill_and_join, online, until, windows  # noqa: E402,F401
from test_web_page import CHROMIUM_ARGS  # noqa: E402


class BrowserThread:
    """Chromium on a thread with its own loop; ``call(coro)`` runs a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.playwright = self.browser = None

    def start(self) -> None:
        async def launch():
            self.playwright = await async_playwright().start()
            self.browser = await self.playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                                 args=CHROMIUM_ARGS)
        asyncio.run_coroutine_threadsafe(launch(), self.loop).result(60)

    async def call(self, coro, timeout: float = 120):
        return await asyncio.wait_for(asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop)),
                                      timeout)

    def stop(self) -> None:
        async def close():
            if self.browser is not None:
                await self.browser.close()
            if self.playwright is not None:
                await self.playwright.stop()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def chromium():
    browser = BrowserThread()
    browser.start()
    yield browser
    browser.stop()


def test_fifty_mib_desktop_to_browser_and_browser_to_desktop_keep_their_sha256(run, chromium, files_server,
                                                                                 windows, tmp_path):
    window = windows("alice")
    to_page, from_page = tmp_path / "to-page.bin", tmp_path / "from-page.bin"
    to_page_sha, from_page_sha = random_file(to_page, 50 * MiB), random_file(from_page, 50 * MiB)
    origin = files_server.url.replace("ws://", "http://", 1).rstrip("/")
    figures = {}
    state = {}

    async def open_page():
        context = await chromium.browser.new_context()
        page = await context.new_page()
        await page.goto(origin + "/")
        await page.fill("#userId", "carol")
        await page.fill("#room", "big")
        await page.click("#joinBtn")
        await expect(page.locator("#status")).to_have_class("online")
        state["context"], state["page"] = context, page

    async def page_attaches():
        await state["page"].set_input_files("#filePicker", str(from_page))

    async def page_downloads(name: str) -> str:
        page = state["page"]
        link = page.locator("#log .file-line", has_text=name).locator(".file-download")
        await expect(link).to_have_count(1, timeout=60000)
        return await page.evaluate("""async (url) => {
            const body = await (await fetch(url)).arrayBuffer();
            const hash = await crypto.subtle.digest('SHA-256', body);
            return [...new Uint8Array(hash)].map(b => b.toString(16).padStart(2, '0')).join('');
        }""", await link.get_attribute("href"))

    async def scenario():
        fill_and_join(window, "alice", files_server.url, "big")
        await until(lambda: online(window))
        await chromium.call(open_page())
        await until(lambda: "carol" in window.sidebar.members.stringList(), what="the page in the room")

        # Browser -> desktop: the page attaches 50 MiB, the desktop saves it (streamed to disk).
        await chromium.call(page_attaches())
        await until(lambda: [i for i in file_items(window) if i.kind is Kind.OTHER], timeout=120,
                    what="the page's file at the desktop")
        item, = [i for i in file_items(window) if i.kind is Kind.OTHER]
        assert item.file.name == "from-page.bin" and item.file.size == 50 * MiB
        saved = tmp_path / "saved.bin"
        started = time.perf_counter()
        await window.files.save(item, saved)
        figures["download"] = time.perf_counter() - started
        assert item.saved == str(saved) and file_sha(saved) == from_page_sha

        # Desktop -> browser: the page fetches what the desktop sent and hashes it with WebCrypto.
        started = time.perf_counter()
        window.files.send_files([str(to_page)])
        await until(lambda: [i for i in file_items(window, delivered=True) if i.kind is Kind.OWN],
                    timeout=120, what="the desktop's upload stored")
        figures["upload"] = time.perf_counter() - started
        digest = await chromium.call(page_downloads("to-page.bin"))
        assert digest == to_page_sha
        own, = [i for i in file_items(window) if i.kind is Kind.OWN]
        assert own.state is DeliveryState.DELIVERED and own.file.sha256 == digest
        await chromium.call(state["context"].close())

    run(scenario(), timeout=240)
    print(f"\n50 MiB desktop upload {figures['upload']:.2f} s ({50 / figures['upload']:.0f} MiB/s), "
          f"desktop Save of 50 MiB {figures['download']:.2f} s ({50 / figures['download']:.0f} MiB/s)")
