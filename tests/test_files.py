"""Shared files on a real server: uploads over the websocket, storage, downloads, limits."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from server.files import FileLimits, MiB
from server.file_format import encode_chunk
from server.thread import ServerThread
from tests.conftest import ChatPeer, free_port, make_config, run
from tests.test_reliability import _fill, start_headless, wait_listening
from tests.uploads import Uploader, UploadRefused, http_get

ROOM = "files"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101005d1c2a6a0000000049454e44ae426082"
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def start(tmp_path: Path, **overrides) -> ServerThread:
    overrides.setdefault("rate_limit", 0)
    thread = ServerThread(make_config(tmp_path / "data", **overrides))
    thread.start()
    return thread


@pytest.fixture
def server(tmp_path):
    thread = start(tmp_path, files=FileLimits(max_file=4 * MiB, upload_timeout=60))
    try:
        yield thread
    finally:
        thread.stop()


async def member(url: str, name: str, **join) -> ChatPeer:
    peer = await ChatPeer.open(url)
    welcome = await peer.join(name, ROOM, **join)
    assert welcome["type"] == "welcome", welcome
    await peer.nothing(0.05)
    return peer


async def get(port: int, path: str):
    return await asyncio.to_thread(http_get, port, path)


def stored_blobs(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "files" / "blobs").rglob("*") if p.is_file()]


def test_a_file_reaches_the_room_whole_and_downloads_with_safe_headers(server, tmp_path):
    data = os.urandom(3 * MiB + 17)

    async def scenario():
        ann = await member(server.url, "ann")
        bob = await member(server.url, "bob")
        uploader = Uploader(ann.connection)
        own = await uploader.send_file("report.pdf", data, mime="application/pdf")
        seen = await bob.expect("chat")
        assert seen["id"] == own["id"] and seen["from"] == "ann" and "nonce" not in seen
        assert seen["file"] == own["file"]
        assert seen["file"]["name"] == "report.pdf" and seen["file"]["size"] == len(data)
        assert seen["file"]["sha256"] == sha(data) and seen["file"]["type"] == "application/pdf"
        assert seen["file"]["id"] != seen["file"]["sha256"] and len(seen["file"]["id"]) >= 22
        status, headers, body = await get(server.port, seen["file"]["url"])
        assert status == 200 and sha(body) == sha(data)
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert headers["content-type"] == "application/octet-stream"
        assert headers["content-disposition"].startswith('attachment; filename="report.pdf"')
        # History and resume carry it like any message.
        late = await ChatPeer.open(server.url)
        await late.send(type="join", userId="cy", room=ROOM)
        history = await late.expect("history")
        assert [m["file"] for m in history["messages"]] == [seen["file"]]
        resumed = await ChatPeer.open(server.url)
        await resumed.send(type="join", userId="dee", room=ROOM, since=seen["id"] - 1)
        assert (await resumed.expect("history"))["messages"][0]["file"]["id"] == seen["file"]["id"]
        # A guessed or partial id finds nothing.
        assert (await get(server.port, "/files/" + "A" * 24 + "/report.pdf"))[0] == 404
        assert (await get(server.port, "/files/" + seen["file"]["sha256"]))[0] == 404

    run(scenario())


def test_hostile_uploads_get_safe_names_and_never_run_in_a_browser(server):
    html = b"<html><script>alert(document.cookie)</script></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    cases = [
        # (offered name, claimed type, bytes, shown name, recorded type, inline)
        ("../../x", "text/plain", b"up two", "x", "text/plain", False),
        ("<img src=x onerror=alert(1)>.png", "image/png", html, "_img src=x onerror=alert(1)_.png",
         "application/octet-stream", False),
        ("cat.png", "image/png", html, "cat.png", "application/octet-stream", False),
        ("logo.svg", "image/svg+xml", svg, "logo.svg", "application/octet-stream", False),
        ("page.html", "text/html", html, "page.html", "application/octet-stream", False),
        ("invoice\u202egpj.zip", "application/zip", b"PK\x03\x04" + bytes(60), "invoicegpj.zip",
         "application/zip", False),
        ("bomb" + ".zip" * 200, "application/zip", b"PK\x05\x06" + bytes(18), None, "application/zip", False),
        ("C:\\Windows\\system32\\CON", "application/octet-stream", b"dev", "_CON", "application/octet-stream", False),
        ("image.txt", "text/plain", PNG, "image.txt", "image/png", True),
        ("empty", "text/plain", b"", "empty", "text/plain", False),
    ]

    async def scenario():
        ann = await member(server.url, "ann")
        bob = await member(server.url, "bob")
        uploader = Uploader(ann.connection)
        for offered, claimed, data, shown, recorded, inline in cases:
            own = await uploader.send_file(offered, data, mime=claimed)
            ref = (await bob.expect("chat", id=own["id"]))["file"]
            if shown is not None:
                assert ref["name"] == shown, offered
            assert "/" not in ref["name"] and "\\" not in ref["name"] and "\u202e" not in ref["name"]
            assert len(ref["name"]) <= 255 and ref["name"].endswith(".zip" if "zip" in claimed else "")
            assert ref["type"] == recorded and ref["size"] == len(data), offered
            status, headers, body = await get(server.port, ref["url"])
            assert status == 200 and body == data
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["content-security-policy"] == "default-src 'none'; sandbox"
            if inline:
                assert headers["content-type"] == "image/png"
                assert headers["content-disposition"].startswith("inline;")
            else:
                assert headers["content-type"] == "application/octet-stream", offered
                assert headers["content-disposition"].startswith("attachment;"), offered
        # Chat still works.
        await ann.connection.send('{"type":"chat","content":"still here","nonce":"n"}')
        assert (await bob.expect("chat", content="still here"))["from"] == "ann"

    run(scenario())


def test_the_size_limit_takes_exactly_the_limit_and_refuses_one_byte_more(server):
    async def scenario():
        ann = await member(server.url, "ann")
        uploader = Uploader(ann.connection)
        exact = os.urandom(4 * MiB)
        own = await uploader.send_file("exact.bin", exact)
        assert own["file"]["size"] == 4 * MiB
        with pytest.raises(UploadRefused) as refused:
            await uploader.offer("over.bin", 4 * MiB + 1)
        assert refused.value.code == "file_too_big"
        assert refused.value.frame["content"] == "over.bin is 4.0 MiB; files may be at most 4.0 MiB"
        with pytest.raises(UploadRefused) as lying:  # more bytes than offered
            accept = await uploader.offer("small.bin", 10)
            await uploader.stream(accept, b"y" * 11 + b"")
            await uploader.record(accept)
        assert lying.value.code == "bad_message"

    run(scenario())


def test_a_thousand_tiny_files_at_once_all_arrive_and_chat_goes_on(tmp_path):
    thread = start(tmp_path, files=FileLimits(uploads_per_minute=0))
    try:
        async def scenario():
            ann = await member(thread.url, "ann")
            bob = await member(thread.url, "bob")
            uploader = Uploader(ann.connection)
            # Five at once is one too many for a connection: the fifth is told to wait.
            accepts = [await uploader.offer(f"held{i}", 1) for i in range(4)]
            with pytest.raises(UploadRefused) as refused:
                await uploader.offer("fifth", 1)
            assert refused.value.code == "too_many_uploads"
            for accept in accepts:
                await uploader.stream(accept, b"h")
                await uploader.record(accept)
            slots = asyncio.Semaphore(4)

            async def one(i: int) -> dict:
                async with slots:
                    return await uploader.send_file(f"tiny-{i}.txt", f"file {i}".encode(), mime="text/plain")

            started = time.monotonic()
            records = await asyncio.gather(*(one(i) for i in range(1000)))
            elapsed = time.monotonic() - started
            await ann.connection.send('{"type":"chat","content":"done","nonce":"d"}')
            seen = []
            while True:
                frame = await bob.expect("chat", timeout=10)
                if frame.get("file"):
                    seen.append(frame["file"]["name"])
                if frame["content"] == "done":
                    break
            names = [f"tiny-{i}.txt" for i in range(1000)]
            assert sorted(seen[4:]) == sorted(names) and len(seen) == 1004
            assert len({r["file"]["id"] for r in records}) == 1000
            return elapsed

        elapsed = run(scenario())
        assert elapsed < 60, elapsed
    finally:
        thread.stop()


def test_the_per_address_upload_rate_is_a_plain_refusal(tmp_path):
    thread = start(tmp_path, files=FileLimits(uploads_per_minute=3))
    try:
        async def scenario():
            ann = await member(thread.url, "ann")
            uploader = Uploader(ann.connection)
            for i in range(3):
                await uploader.send_file(f"f{i}", b"x")
            with pytest.raises(UploadRefused) as refused:
                await uploader.offer("f3", 1)
            assert refused.value.code == "rate_limited"
            assert refused.value.frame["content"] == "too many files: at most 3 a minute from one address"

        run(scenario())
    finally:
        thread.stop()


def test_a_private_file_reaches_only_its_addressee_also_through_history(server):
    async def scenario():
        ann = await member(server.url, "ann")
        bob = await member(server.url, "bob")
        eve = await member(server.url, "eve")
        uploader = Uploader(ann.connection)
        own = await uploader.send_file("secret.png", PNG, mime="image/png", to="bob")
        assert own["to"] == "bob" and own["file"]["type"] == "image/png"
        got = await bob.expect("chat")
        assert got["file"]["id"] == own["file"]["id"] and got["to"] == "bob"
        assert not [f for f in await eve.nothing(0.3) if f["type"] == "chat"]
        with pytest.raises(UploadRefused) as refused:
            await uploader.offer("x", 1, to="nobody")
        assert refused.value.code == "no_such_member"
        # History: nobody else ever sees it (its download id included).
        await eve.close()
        eve2 = await ChatPeer.open(server.url)
        await eve2.send(type="join", userId="eve", room=ROOM)
        assert (await eve2.expect("history"))["messages"] == []

    run(scenario())


def test_a_private_file_is_in_its_addressees_own_history(server):
    async def scenario():
        ann = await member(server.url, "ann")
        bob = await ChatPeer.open(server.url)
        welcome = await bob.join("bob", ROOM)
        await bob.nothing(0.05)
        own = await Uploader(ann.connection).send_file("note.txt", b"for bob", to="bob")
        await bob.expect("chat")
        await bob.close()
        back = await ChatPeer.open(server.url)
        await back.send(type="join", userId="bob", room=ROOM, resume=welcome["resume"])
        history = await back.expect("history")
        assert [m["file"]["id"] for m in history["messages"]] == [own["file"]["id"]]

    run(scenario())


def test_an_interrupted_upload_resumes_where_it_stopped_and_appears_once(server, tmp_path):
    data = os.urandom(3 * MiB)

    async def scenario():
        ann = await member(server.url, "ann")
        bob = await member(server.url, "bob")
        uploader = Uploader(ann.connection)
        accept = await uploader.offer("big.bin", len(data))
        await uploader.stream(accept, data, stop_at=MiB + 5)
        await asyncio.sleep(0.2)
        await uploader.close()  # the network drops
        assert not [f for f in await bob.nothing(0.3) if f["type"] == "chat"]
        ann2 = await ChatPeer.open(server.url)
        await ann2.join("ann", ROOM)
        await ann2.nothing(0.05)
        again = Uploader(ann2.connection)
        resumed = await again.offer("big.bin", len(data), upload=accept["upload"])
        assert MiB <= resumed["offset"] <= MiB + 5
        await again.stream(resumed, data)
        own = await again.record(resumed)
        assert own["file"]["sha256"] == sha(data)
        frames = [f for f in await bob.nothing(0.5) if f["type"] == "chat"]
        assert [f["file"]["id"] for f in frames] == [own["file"]["id"]]
        status, _, body = await get(server.port, own["file"]["url"])
        assert status == 200 and body == data
        # The resume secret is spent; someone else's name cannot use it either.
        with pytest.raises(UploadRefused) as refused:
            await again.offer("big.bin", len(data), upload=accept["upload"])
        assert refused.value.code == "upload_unknown"

    run(scenario())
    assert not list((tmp_path / "data" / "files" / "partial").iterdir())


def test_kill_9_mid_upload_then_resume_delivers_the_file_exactly_once(tmp_path):
    data = os.urandom(24 * MiB)
    data_dir = tmp_path / "data"
    port = free_port()
    url = f"ws://127.0.0.1:{port}"

    async def scenario():
        proc = start_headless(data_dir, port)
        await wait_listening(url, proc)
        bob = await ChatPeer.open(url)
        welcome = await bob.join("bob", ROOM)
        ann = await ChatPeer.open(url)
        ann_welcome = await ann.join("ann", ROOM)
        await bob.nothing(0.1)
        uploader = Uploader(ann.connection)
        accept = await uploader.offer("movie.bin", len(data))
        await uploader.stream(accept, data, stop_at=10 * MiB)
        await asyncio.sleep(0.3)
        # Nothing partial is ever served: the upload's secret is not a download id, and the
        # partial file has no record yet.
        status, _, _ = await get(port, f"/files/{accept['upload']}/movie.bin")
        assert status == 404
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        await uploader.close()
        await bob.close()
        proc = start_headless(data_dir, port)
        try:
            await wait_listening(url, proc)
            bob = await ChatPeer.open(url)
            await bob.send(type="join", userId="bob", room=ROOM, resume=welcome["resume"], since=welcome["lastId"])
            await bob.expect("history")
            ann = await ChatPeer.open(url)
            await ann.send(type="join", userId="ann", room=ROOM, resume=ann_welcome["resume"])
            await ann.expect("history")
            again = Uploader(ann.connection)
            resumed = await again.offer("movie.bin", len(data), upload=accept["upload"])
            assert 0 < resumed["offset"] <= 10 * MiB
            await again.stream(resumed, data)
            own = await again.record(resumed, timeout=60)
            got = await bob.expect("chat", timeout=30)
            assert got["file"]["id"] == own["file"]["id"] and got["file"]["sha256"] == sha(data)
            assert not [f for f in await bob.nothing(0.5) if f["type"] == "chat"]
            status, _, body = await get(port, own["file"]["url"])
            assert status == 200 and sha(body) == sha(data)
            # A later joiner's history has it once.
            late = await ChatPeer.open(url)
            await late.send(type="join", userId="late", room=ROOM)
            history = await late.expect("history")
            assert [m["file"]["id"] for m in history["messages"] if m.get("file")] == [own["file"]["id"]]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)

    run(scenario())


def test_an_abandoned_upload_is_discarded_after_the_timeout(tmp_path):
    thread = start(tmp_path, files=FileLimits(upload_timeout=0.5), ping_interval=0.4, ping_timeout=0.4)
    try:
        async def scenario():
            ann = await member(thread.url, "ann")
            uploader = Uploader(ann.connection)
            accept = await uploader.offer("gone.bin", 200_000)
            await uploader.stream(accept, bytes(200_000), stop_at=100_000)
            await uploader.close()
            partial = tmp_path / "data" / "files" / "partial"
            deadline = time.monotonic() + 5
            while list(partial.iterdir()) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert not list(partial.iterdir())
            ann2 = await member(thread.url, "ann")
            with pytest.raises(UploadRefused) as refused:
                await Uploader(ann2.connection).offer("gone.bin", 200_000, upload=accept["upload"])
            assert refused.value.code == "upload_unknown"

        run(scenario())
    finally:
        thread.stop()


def test_cancel_discards_the_bytes_and_nobody_hears_of_it(server, tmp_path):
    async def scenario():
        ann = await member(server.url, "ann")
        bob = await member(server.url, "bob")
        uploader = Uploader(ann.connection)
        accept = await uploader.offer("oops.bin", 2 * MiB)
        await uploader.stream(accept, bytes(2 * MiB), stop_at=MiB)
        await ann.connection.send(f'{{"type":"file_cancel","upload":"{accept["upload"]}"}}')
        await asyncio.sleep(0.3)
        assert not list((tmp_path / "data" / "files" / "partial").iterdir())
        assert not [f for f in await bob.nothing(0.3) if f["type"] == "chat"]

    run(scenario())


def test_the_same_bytes_are_stored_once_under_two_ids(server, tmp_path):
    data = os.urandom(100_000)

    async def scenario():
        ann = await member(server.url, "ann")
        uploader = Uploader(ann.connection)
        first = await uploader.send_file("a.bin", data)
        second = await uploader.send_file("b.bin", data)
        assert first["file"]["id"] != second["file"]["id"]
        for record in (first, second):
            assert (await get(server.port, record["file"]["url"]))[2] == data

    run(scenario())
    assert len(stored_blobs(tmp_path / "data")) == 1


def test_over_the_total_the_oldest_files_make_room(tmp_path):
    thread = start(tmp_path, files=FileLimits(max_file=MiB, max_total=2 * MiB))
    try:
        async def scenario():
            ann = await member(thread.url, "ann")
            uploader = Uploader(ann.connection)
            old = await uploader.send_file("old.bin", os.urandom(MiB))
            mid = await uploader.send_file("mid.bin", os.urandom(MiB))
            new = await uploader.send_file("new.bin", os.urandom(MiB))
            status, _, body = await get(thread.port, old["file"]["url"])
            assert status == 410 and b"make room" in body
            for kept in (mid, new):
                assert (await get(thread.port, kept["file"]["url"]))[0] == 200

        run(scenario())
        assert len(stored_blobs(tmp_path / "data")) == 2
    finally:
        thread.stop()


def test_a_disk_without_room_refuses_the_upload_and_chat_goes_on(tmp_path):
    thread = start(tmp_path, files=FileLimits(min_free_disk=1 << 60))
    try:
        async def scenario():
            ann = await member(thread.url, "ann")
            bob = await member(thread.url, "bob")
            with pytest.raises(UploadRefused) as refused:
                await Uploader(ann.connection).offer("a.bin", 10)
            assert refused.value.code == "storage_full"
            assert refused.value.frame["content"].startswith("the server's disk is full (")
            await ann.connection.send('{"type":"chat","content":"hello","nonce":"h"}')
            assert (await bob.expect("chat"))["content"] == "hello"

        run(scenario())
    finally:
        thread.stop()


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs (needs root) for the data dir."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_disk_filling_mid_upload_stops_it_with_an_error_and_loses_no_chat(small_disk):
    thread = ServerThread(make_config(small_disk / "data", rate_limit=0,
                                      files=FileLimits(max_file=64 * MiB, min_free_disk=0)))
    thread.start()
    try:
        async def scenario():
            ann = await member(thread.url, "ann")
            bob = await member(thread.url, "bob")
            await ann.connection.send('{"type":"chat","content":"before","nonce":"b"}')
            await bob.expect("chat", content="before")
            uploader = Uploader(ann.connection)
            data = os.urandom(6 * MiB)
            accept = await uploader.offer("huge.bin", len(data))
            await uploader.stream(accept, data, stop_at=2 * MiB)
            _fill(small_disk / "filler")  # something else takes the rest of the disk
            with pytest.raises(UploadRefused) as refused:
                await uploader.stream(accept | {"offset": 2 * MiB}, data)
                await uploader.record(accept)
            assert refused.value.code == "storage_full"
            assert refused.value.frame["content"] == "the server's disk is full; the file was not sent"
            assert not list((small_disk / "data" / "files" / "partial").iterdir())
            await ann.connection.send('{"type":"chat","content":"after","nonce":"a"}')
            assert (await bob.expect("chat", content="after"))["from"] == "ann"
            late = await ChatPeer.open(thread.url)
            await late.send(type="join", userId="late", room=ROOM)
            contents = [m["content"] for m in (await late.expect("history"))["messages"]]
            assert contents == ["before", "after"]

        run(scenario())
    finally:
        thread.stop()


def test_the_bandwidth_limit_paces_uploads_through_the_window(tmp_path):
    thread = start(tmp_path, files=FileLimits(bandwidth=2 * MiB))
    try:
        async def scenario():
            ann = await member(thread.url, "ann")
            uploader = Uploader(ann.connection)
            started = time.monotonic()
            await uploader.send_file("paced.bin", bytes(4 * MiB))
            return time.monotonic() - started

        elapsed = run(scenario())
        # One second's worth goes at once, the other 3 MiB at 2 MiB/s (minus the last window).
        assert 0.9 < elapsed < 3.0, elapsed
    finally:
        thread.stop()


def test_bytes_beyond_the_window_close_the_connection(tmp_path):
    thread = start(tmp_path, files=FileLimits(bandwidth=MiB))
    try:
        async def scenario():
            ann = await member(thread.url, "ann")
            uploader = Uploader(ann.connection)
            accept = await uploader.offer("flood.bin", 3 * MiB)
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(2 * MiB // accept["chunk"] + 8):  # ignoring the credit
                    await ann.connection.send(encode_chunk(accept["handle"], bytes(accept["chunk"])))
                await asyncio.wait_for(ann.connection.wait_closed(), 5)
                await ann.connection.send('{"type":"ping"}')
            assert ann.connection.close_code == 1008
            assert ann.connection.close_reason == "upload bytes beyond the window"
            del closed

        run(scenario())
    finally:
        thread.stop()


def test_a_v1_page_gets_a_chat_line_with_a_working_download_link(server):
    async def scenario():
        ann = await member(server.url, "ann")
        seed = await ChatPeer.open(server.url, v2=False)
        await seed.join("seed", ROOM)
        await seed.nothing(0.1)
        own = await Uploader(ann.connection).send_file("photo.png", PNG, mime="image/png")
        line = await seed.expect("chat")
        assert set(line) == {"type", "from", "content", "timestamp"}
        link = f"http://127.0.0.1:{server.port}{own['file']['url']}"
        assert line["content"] == f"[文件] photo.png (70 B) {link}"
        status, headers, body = await get(server.port, own["file"]["url"])
        assert status == 200 and body == PNG and headers["content-type"] == "image/png"
        # A v1 page cannot upload: its binary frames are refused like any bad frame.
        await seed.connection.send(b"\x00\x00\x00\x01data")
        await ann.connection.send('{"type":"chat","content":"ok","nonce":"o"}')
        assert (await seed.expect("chat"))["content"] == "ok"

    run(scenario())


def test_in_a_room_with_a_key_the_files_need_the_key_or_the_link(tmp_path):
    thread = start(tmp_path, key="sesame")
    try:
        async def scenario():
            ann = await member(thread.url, "ann", key="sesame")
            own = await Uploader(ann.connection).send_file("plan.txt", b"the plan")
            stranger = await ChatPeer.open(thread.url)
            refused = await stranger.join("mallory", ROOM)
            assert refused["code"] == "bad_key"
            with pytest.raises(UploadRefused) as not_joined:
                await Uploader(stranger.connection).offer("x", 1)
            assert not_joined.value.code == "not_joined"
            assert (await get(thread.port, "/files/"))[0] == 404
            assert (await get(thread.port, own["file"]["url"]))[2] == b"the plan"

        run(scenario())
    finally:
        thread.stop()


def test_deleting_a_file_message_takes_the_file_with_it(server, tmp_path):
    data = os.urandom(50_000)

    async def scenario():
        ann = await member(server.url, "ann")
        uploader = Uploader(ann.connection)
        kept = await uploader.send_file("kept.bin", data)
        doomed = await uploader.send_file("doomed.bin", data)
        lonely = await uploader.send_file("lonely.bin", b"only here")
        # A file message cannot be edited.
        await ann.connection.send(f'{{"type":"edit","id":{lonely["id"]},"content":"x","nonce":"e"}}')
        for record in (doomed, lonely):
            await ann.connection.send(f'{{"type":"delete","id":{record["id"]},"nonce":"d{record["id"]}"}}')
        await asyncio.sleep(0.3)
        assert (await get(server.port, doomed["file"]["url"]))[0] == 410
        assert (await get(server.port, lonely["file"]["url"]))[0] == 410
        assert (await get(server.port, kept["file"]["url"]))[2] == data  # same bytes, still shared
        refusals = [f for f in uploader.other if f["type"] == "error" and f.get("nonce") == "e"]
        assert [f["code"] for f in refusals] == ["not_allowed"]
        events = [f["type"] for f in uploader.other if f.get("nonce", "").startswith("d")]
        assert events == ["delete", "delete"]

    run(scenario())
    assert len(stored_blobs(tmp_path / "data")) == 1
