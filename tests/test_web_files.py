"""Shared files in the served page (headless Chromium) against a real server: attach, drop,
paste, progress, cancel, inline images, download links, and a 50 MiB file both ways."""

from __future__ import annotations

import asyncio
import hashlib
import os

from conftest import ARTIFACTS, ChatPeer
from playwright.async_api import expect
from test_web_page import (  # noqa: F401 (fixtures)
    RestartableServer,
    artifacts_dir,
    browser,
    join,
    loop,
    open_page,
    page_with_peer,
    run,
    server,
)

from server.files import FileLimits, MiB
from tests.pictures import png
from tests.uploads import Uploader, http_get

PICTURE = png()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def file_record(peer: ChatPeer, timeout: float = 30) -> dict:
    while True:
        frame = await peer.expect("chat", timeout=timeout)
        if frame.get("file"):
            return frame


async def image_shown(page, count: int = 1) -> None:
    images = page.locator("#log .msg .file-image img")
    await expect(images).to_have_count(count)
    await page.wait_for_function(
        "n => [...document.querySelectorAll('#log .file-image img')].filter(i => i.naturalWidth > 0).length >= n",
        arg=count,
    )


def test_attach_an_image_it_shows_inline_for_everyone_in_both_languages(run, open_page, server):
    async def scenario():
        for locale in ("en-US", "zh-CN"):
            seen = await open_page(locale=locale)
            page = seen.page
            name = "alice" + locale[:2]
            await join(page, name, "photos-" + locale[:2])
            bob = await ChatPeer.open(server.url)
            await bob.join("bob" + locale[:2], "photos-" + locale[:2])
            await expect(page.locator("#attachBtn")).to_be_enabled()
            await page.set_input_files("#filePicker", files=[
                {"name": "sunset.png", "mimeType": "image/png", "buffer": PICTURE},
                {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"plain notes\n"},
            ])
            records = [await file_record(bob), await file_record(bob)]
            by_name = {r["file"]["name"]: r for r in records}
            assert by_name["sunset.png"]["file"]["sha256"] == sha(PICTURE)
            assert by_name["sunset.png"]["file"]["type"] == "image/png"
            assert by_name["sunset.png"]["from"] == name
            await image_shown(page)
            await expect(page.locator("#outbox .upload")).to_have_count(0)
            download = page.locator("#log .file-line", has_text="notes.txt").locator(".file-download")
            await expect(download).to_have_attribute("download", "notes.txt")
            await expect(download).to_have_text("Download" if locale == "en-US" else "下载")
            # Another page's copy (the peer's upload) shows inline as well.
            await Uploader(bob.connection).send_file("from-bob.png", png(90, 60), mime="image/png")
            await image_shown(page, 2)
            await page.screenshot(path=str(ARTIFACTS / f"web-files-{locale[:2]}.png"))
            await bob.close()

    run(scenario())


def test_drop_and_paste_upload_and_the_progress_row_cancels(run, open_page, tmp_path):
    slow = RestartableServer(tmp_path / "slow", files=FileLimits(bandwidth=1 * MiB))

    async def scenario():
        seen = await open_page(origin=slow.origin)
        page = seen.page
        await join(page, "alice")
        bob = await ChatPeer.open(slow.url)
        await bob.join("bob", "room-1")
        # Drop a file on the chat.
        await page.evaluate("""(bytes) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], 'dropped.bin', {type: 'application/octet-stream'}));
            const chat = document.getElementById('chat');
            chat.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true, cancelable: true}));
            chat.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
        }""", list(b"dropped bytes"))
        assert (await file_record(bob))["file"]["name"] == "dropped.bin"
        # Paste a screenshot into the message box: it becomes a PNG named by the time.
        await page.evaluate("""(bytes) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], 'image.png', {type: 'image/png'}));
            document.getElementById('msgInput').dispatchEvent(
                new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
        }""", list(PICTURE))
        pasted = await file_record(bob)
        assert pasted["file"]["name"].startswith("pasted-") and pasted["file"]["name"].endswith(".png")
        assert pasted["file"]["sha256"] == sha(PICTURE)
        # A slow upload shows its progress; Cancel stops it and nobody hears of it.
        await page.set_input_files("#filePicker", files=[
            {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": os.urandom(6 * MiB)}])
        row = page.locator("#outbox .upload")
        await expect(row).to_have_count(1)
        await expect(row.locator(".upload-status")).to_contain_text(" of 6.0 MiB", timeout=5000)
        await page.screenshot(path=str(ARTIFACTS / "web-files-progress.png"))
        await row.locator(".cancel-upload").click()
        await expect(row).to_have_count(0)
        await asyncio.sleep(0.5)
        assert not [f for f in await bob.nothing(0.5) if f.get("file")]
        assert not list((tmp_path / "slow" / "files" / "partial").iterdir())
        seen.server_down_on_purpose = True  # stopped below, before the page closes

    try:
        run(scenario())
    finally:
        slow.stop()


def test_a_refused_file_says_why_and_chat_goes_on(run, open_page, tmp_path):
    small = RestartableServer(tmp_path / "small", files=FileLimits(max_file=1000))

    async def scenario():
        seen = await open_page(origin=small.origin)
        page = seen.page
        await join(page, "alice")
        await page.set_input_files("#filePicker", files=[
            {"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": bytes(2000)}])
        row = page.locator("#outbox .upload.failed")
        await expect(row).to_contain_text("The file is larger than this server accepts.")
        await row.locator(".cancel-upload").click()
        await expect(row).to_have_count(0)
        seen.server_down_on_purpose = True

    try:
        run(scenario())
    finally:
        small.stop()


def test_fifty_mib_page_to_client_and_client_to_page_keep_their_sha256(run, open_page, server, tmp_path):
    data = os.urandom(50 * MiB)
    path = tmp_path / "fifty.bin"
    path.write_bytes(data)

    async def scenario():
        alice, bob = await page_with_peer(open_page, server)
        page = alice.page
        await page.set_input_files("#filePicker", str(path))
        record = await file_record(bob, timeout=120)
        assert record["file"]["sha256"] == sha(data) and record["file"]["size"] == len(data)
        status, _, body = await asyncio.to_thread(http_get, server.port, record["file"]["url"], 120)
        assert status == 200 and sha(body) == sha(data)
        # And back: the page downloads a 50 MiB file bob shared and hashes what it got.
        other = os.urandom(50 * MiB)
        own = await Uploader(bob.connection).send_file("back.bin", other)
        link = page.locator("#log .file-line", has_text="back.bin").locator(".file-download")
        await expect(link).to_have_count(1, timeout=30000)
        digest = await page.evaluate("""async (url) => {
            const body = await (await fetch(url)).arrayBuffer();
            const hash = await crypto.subtle.digest('SHA-256', body);
            return [...new Uint8Array(hash)].map(b => b.toString(16).padStart(2, '0')).join('');
        }""", await link.get_attribute("href"))
        assert digest == own["file"]["sha256"] == sha(other)

    run(scenario())


def test_a_file_sent_in_a_private_conversation_reaches_only_the_addressee(run, open_page, server):
    async def scenario():
        alice, bob = await page_with_peer(open_page, server)
        page = alice.page
        carol = await ChatPeer.open(server.url)
        await carol.join("carol", "room-1")
        await page.locator("#memberList .member", has_text="bob").click()
        await expect(page.locator("#privateBar")).to_be_visible()
        await page.set_input_files("#filePicker", files=[
            {"name": "for-bob.png", "mimeType": "image/png", "buffer": PICTURE}])
        record = await file_record(bob)
        assert record["to"] == "bob" and record["file"]["name"] == "for-bob.png"
        await image_shown(page)
        await expect(page.locator("#log .msg.private .file-image img")).to_have_count(1)
        assert not [f for f in await carol.nothing(0.5) if f.get("file")]

    run(scenario())
