"""The seed tutorial's own page (v1), unmodified but for its server address, against our server.

The page is read from the team's shared seed folder (it is not ours to copy into the project)
and served from another origin, which our server must be told to allow (``allowed_origins``).
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from pathlib import Path

import pytest
from conftest import ARTIFACTS, free_port, make_config
from playwright.async_api import async_playwright, expect

from server.thread import ServerThread
from test_web_page import CHROMIUM_ARGS

SEED_PAGE = Path("/work/shared/seed/index.html")
SEED_ADDRESS = "const SERVER_URL = 'ws://localhost:8080';"

pytestmark = pytest.mark.skipif(not SEED_PAGE.exists(), reason=f"the seed page is not at {SEED_PAGE}")


class SeedPageServer:
    """Serves the seed's index.html, pointed at ``ws_url``, on its own loopback port."""

    def __init__(self, ws_url: str) -> None:
        html = SEED_PAGE.read_text(encoding="utf-8")
        assert SEED_ADDRESS in html, "the seed page changed: its server address line is gone"
        body = html.replace(SEED_ADDRESS, f"const SERVER_URL = '{ws_url}';").encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_unmodified_seed_page_chats_through_our_server(tmp_path):
    port = free_port()
    page_server = SeedPageServer(f"ws://127.0.0.1:{port}")
    server = ServerThread(make_config(tmp_path / "data", port=port, allowed_origins=(page_server.origin,)))
    server.start()

    async def scenario():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                first, second = await browser.new_page(), await browser.new_page()
                errors: list[str] = []
                for page in (first, second):
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    await page.goto(page_server.origin + "/")
                await first.fill("#userId", "甲")
                await first.click("#joinBtn")
                await expect(first.locator("#messages .msg.system").first).to_have_text(
                    "已加入房间「room-1」,当前 1 人在线"
                )
                await second.fill("#userId", "乙")
                await second.click("#joinBtn")
                await expect(second.locator("#messages .msg.system").first).to_have_text(
                    "已加入房间「room-1」,当前 2 人在线"
                )
                await expect(first.locator("#messages .msg.system").nth(1)).to_have_text("用户「乙」加入了房间")
                await first.fill("#msgInput", "你好,乙")
                await first.press("#msgInput", "Enter")
                other = second.locator("#messages .msg.other")
                await expect(other).to_have_count(1)
                await expect(other.first).to_contain_text("你好,乙")
                await expect(other.first.locator(".meta")).to_contain_text("甲")
                await first.screenshot(path=str(ARTIFACTS / "seed-page-sender.png"))
                await second.screenshot(path=str(ARTIFACTS / "seed-page-receiver.png"))
                await second.close()
                await expect(first.locator("#messages .msg.system").nth(2)).to_have_text("用户「乙」离开了房间")
                # v1 as in the seed: the sender's own message is not echoed back.
                await asyncio.sleep(0.3)
                await expect(first.locator("#messages .msg.self")).to_have_count(0)
                assert errors == []
            finally:
                await browser.close()

    ARTIFACTS.mkdir(exist_ok=True)
    try:
        asyncio.run(scenario())
    finally:
        server.stop()
        page_server.close()


def test_a_foreign_origin_is_refused_unless_allowed(tmp_path):
    server = ServerThread(make_config(tmp_path / "data"))
    server.start()
    page_server = SeedPageServer(server.url)

    async def scenario():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                await page.goto(page_server.origin + "/")
                await page.fill("#userId", "甲")
                await page.click("#joinBtn")
                await expect(page.locator("#status")).to_have_class("offline", timeout=5000)
                await expect(page.locator("#messages .msg")).to_have_count(0)
            finally:
                await browser.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
        page_server.close()
