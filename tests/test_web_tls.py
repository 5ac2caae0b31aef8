"""The page from an encrypted desktop host, over https:// in real headless Chromium.

The host is the desktop app's own RoomHost with "Encrypt (TLS)" on: its self-signed certificate
is what a browser on the LAN meets. Chromium refuses it until told to go on (what the share card
warns about), then the page chats over wss:// with a Python client that trusts exactly that
certificate.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
from conftest import ARTIFACTS, ChatPeer
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import expect
from test_web_page import CHROMIUM_ARGS, DESKTOP, browser, join, loop, run, say  # noqa: F401 - fixtures

from desktop.host import RoomHost
from desktop.trust import link_fingerprint

assert CHROMIUM_ARGS  # the module's browser is launched with the brief's flags


@pytest.fixture
def encrypted_host(qapp, tmp_path) -> Iterator[RoomHost]:
    host = RoomHost(host="127.0.0.1")
    assert host.start(0, tmp_path / "hosted", "team-key", tls=True)
    yield host
    host.stop()


def test_the_page_loads_over_https_after_the_warning_and_chats(run, browser, encrypted_host):  # noqa: F811
    host = encrypted_host
    _, link = host.addresses()[0]
    assert link.startswith("https://") and link_fingerprint(link) == host.fingerprint
    trust = ssl.create_default_context(cafile=str(host.certificate.certfile))
    trust.check_hostname = False  # the peer pins the certificate itself, as the app does

    async def scenario():
        wary = await browser.new_context()
        page = await wary.new_page()
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            await page.goto(link)  # the browser's warning: nobody it knows signed this certificate
        await wary.close()

        context = await browser.new_context(ignore_https_errors=True, viewport=DESKTOP)  # "go on"
        try:
            page = await context.new_page()
            sockets = []
            page.on("websocket", lambda socket: sockets.append(socket.url))
            await page.goto(link)
            assert await page.evaluate("location.protocol") == "https:"
            await join(page, "anna")
            assert sockets and all(url.startswith(f"wss://127.0.0.1:{host.port}/") for url in sockets)
            bob = await ChatPeer.open(f"wss://127.0.0.1:{host.port}/", ssl=trust)
            assert (await bob.join("bob", "room-1", key="team-key"))["type"] == "welcome"
            await say(page, "hello over https")
            assert (await bob.expect("chat", content="hello over https"))["from"] == "anna"
            await bob.send(type="chat", content="你好，加密的房间", nonce="b1")
            await expect(page.locator("#log .msg.other", has_text="加密的房间")).to_have_count(1)
            await page.screenshot(path=str(ARTIFACTS / "web-over-https.png"))
            await bob.close()
        finally:
            await context.close()

    run(scenario())
