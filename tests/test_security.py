"""Hostile peers: Origin and Host checks, the room key, TLS, private messages stay private."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import ChatPeer, free_port, make_config, run
from websockets.exceptions import InvalidMessage, InvalidStatus

from server.app import ChatServer, TLSError
from server.security import OriginPolicy, normalize_origin
from server.thread import ServerThread

# The policy alone ---------------------------------------------------------------------


def test_normalize_origin_drops_case_default_ports_and_slashes():
    assert normalize_origin("HTTP://Example.COM:80/") == "http://example.com"
    assert normalize_origin("https://example.com:443") == "https://example.com"
    assert normalize_origin("https://example.com:8443") == "https://example.com:8443"
    assert normalize_origin("http://[::1]:8080") == "http://[::1]:8080"
    assert normalize_origin("null") == "null"


SAME_ORIGIN_CASES = [
    # (origin, host, refused?)
    (None, "192.168.1.5:8080", False),  # a native client sends no Origin
    (None, None, False),
    ("http://192.168.1.5:8080", "192.168.1.5:8080", False),  # the page this server served
    ("http://LOCALHOST:8080", "localhost:8080", False),
    ("http://[fe80::1]:8080", "[fe80::1]:8080", False),
    ("http://laptop.local", "laptop.local:80", False),
    ("http://192.168.1.5:9999", "192.168.1.5:8080", True),  # another port is another origin
    ("https://192.168.1.5:8080", "192.168.1.5:8080", True),  # https page, plain server
    ("https://evil.example", "192.168.1.5:8080", True),
    ("null", "127.0.0.1:8080", True),  # a file:// page
    ("http://evil.example:8080", "evil.example:8080", True),  # DNS rebinding
    (None, "evil.example:8080", True),
    ("http://127.0.0.1:8080", "", True),
]


@pytest.mark.parametrize("origin,host,refused", SAME_ORIGIN_CASES)
def test_only_pages_of_this_server_may_connect_by_default(origin, host, refused):
    policy = OriginPolicy.create((), ("laptop",), secure=False)
    assert (policy.refusal(origin, host) is not None) is refused


def test_allow_list_origins_machine_names_and_tls():
    policy = OriginPolicy.create(("null", "https://Chat.Example.org/"), ("Laptop",), secure=True)
    assert policy.refusal("null", "127.0.0.1:8080") is None
    assert policy.refusal("https://chat.example.org", "10.0.0.2:8443") is None
    assert policy.refusal("https://chat.example.org:443", "chat.example.org") is None  # its host too
    assert policy.refusal("https://laptop:8443", "laptop:8443") is None  # this machine's name
    assert policy.refusal("http://laptop:8443", "laptop:8443") is not None  # wrong scheme under TLS
    assert policy.refusal("https://other.example.org", "10.0.0.2:8443") is not None
    reason = policy.refusal("http://evil.example", "evil.example")
    assert reason is not None and "evil.example" in reason


# The policy on a live server ------------------------------------------------------------


def _upgrade(port: int, headers: dict[str, str], *, tls: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """Send a websocket upgrade with exactly these headers; return (status, body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="localhost")
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET / HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while not data.startswith(b"HTTP/1.1 101 ") or b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)  # a refusal ends with the server closing the connection
        if not chunk:
            break
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.fixture
def listed_server(tmp_path: Path):
    thread = ServerThread(make_config(tmp_path / "data", allowed_origins=("null", "http://chat.example.org")))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


def test_foreign_origins_and_hosts_get_403_with_a_reason(server_thread):
    port = server_thread.port
    here = f"127.0.0.1:{port}"
    assert _upgrade(port, {"Host": here})[0] == 101
    assert _upgrade(port, {"Host": here, "Origin": f"http://{here}"})[0] == 101
    assert _upgrade(port, {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"})[0] == 101
    status, body = _upgrade(port, {"Host": here, "Origin": "https://evil.example"})
    assert status == 403 and b"origin 'https://evil.example' may not connect" in body
    status, body = _upgrade(port, {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"})
    assert status == 403 and b"not a name of this server" in body
    status, body = _upgrade(port, {"Host": here, "Origin": "null"})
    assert status == 403 and b"--allow-origin" in body


def test_allow_origin_lets_listed_pages_in(listed_server):
    port = listed_server.port
    here = f"127.0.0.1:{port}"
    assert _upgrade(port, {"Host": here, "Origin": "null"})[0] == 101  # the seed page from file://
    assert _upgrade(port, {"Host": here, "Origin": "http://chat.example.org"})[0] == 101
    assert _upgrade(port, {"Host": f"chat.example.org:{port}", "Origin": "http://chat.example.org"})[0] == 101
    assert _upgrade(port, {"Host": here, "Origin": "http://chat.example.org:81"})[0] == 403

    async def scenario():
        page = await ChatPeer.open(listed_server.url, v2=False, origin="null")
        assert (await page.join("seed", "r"))["type"] == "system"
        with pytest.raises(InvalidStatus) as refused:
            await ChatPeer.open(listed_server.url, origin="http://elsewhere.example")
        assert refused.value.response.status_code == 403

    run(scenario())


# Room key ---------------------------------------------------------------------------------


def test_missing_or_wrong_key_is_refused_and_leaves_the_connection_unjoined(tmp_path):
    thread = ServerThread(make_config(tmp_path, key="s3cret"))
    thread.start()
    try:
        async def scenario():
            insider = await ChatPeer.open(thread.url)
            assert (await insider.join("insider", "r", key="s3cret"))["type"] == "welcome"
            await insider.nothing(0.1)
            for extra in ({}, {"key": "wrong"}, {"key": "s3cret "}, {"key": ""}, {"key": "S3CRET"}):
                outsider = await ChatPeer.open(thread.url)
                reply = await outsider.join("outsider", "r", **extra)
                assert reply["type"] == "error" and reply["code"] == "bad_key", (extra, reply)
                await outsider.send(type="chat", content="let me in", nonce="n")
                assert (await outsider.expect("error"))["code"] == "not_joined"
                await outsider.close()
            seed = await ChatPeer.open(thread.url, v2=False)  # the seed page has no key to send
            notice = await seed.join("seed", "r")
            assert notice["type"] == "system" and "key" in notice["content"]
            await seed.send(type="chat", content="from the seed")
            assert await seed.nothing(0.2) == []
            # Nobody refused ever showed up in the room.
            assert await insider.nothing(0.2) == []

        run(scenario())
    finally:
        thread.stop()


# Private messages --------------------------------------------------------------------------


def test_private_messages_cannot_be_read_through_any_message_type(server_thread):
    """Eve tries every message type, another name, v1, and resume to read alice -> bob."""
    secrets_said = ["to bob 1", "to bob 2"]

    async def scenario():
        alice = await ChatPeer.open(server_thread.url)
        await alice.join("alice", "r")
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "r")
        eve = await ChatPeer.open(server_thread.url)
        await eve.join("eve", "r")
        seed_eve = await ChatPeer.open(server_thread.url, v2=False)
        await seed_eve.join("eve-seed", "r")
        for peer in (alice, bob, eve, seed_eve):
            await peer.nothing(0.1)
        for text in secrets_said:
            await alice.send(type="chat", content=text, nonce=text, to="bob")
            await alice.expect("chat", nonce=text)
            await bob.expect("chat", content=text)
        await alice.send(type="chat", content="public", nonce="pub")
        await alice.expect("chat", nonce="pub")
        # Eve pokes with every message type; none of the answers carries a private message.
        for frame in ({"type": "typing"}, {"type": "ping"}, {"type": "leave"},
                      {"type": "join", "userId": "eve", "room": "r", "since": 0},
                      {"type": "chat", "content": "hello", "to": "alice"},
                      {"type": "join", "userId": "eve", "room": "r"}):
            await eve.send(**frame)
        await seed_eve.send(type="join", userId="eve-seed", room="r")
        seen = await eve.nothing(0.4) + await seed_eve.nothing(0.2)
        # A fresh name, with and without since, both versions.
        for v2, extra in ((True, {"since": 0}), (True, {}), (False, {})):
            peer = await ChatPeer.open(server_thread.url, v2=v2)
            await peer.join("mallory", "r", **extra)
            seen += await peer.nothing(0.2)
            await peer.close()
        dump = repr(seen)
        assert "public" in dump  # eve did get the public history
        assert not any(text in dump for text in secrets_said), dump
        # A name taken while bob is present is refused in every spelling.
        for spelling in ("BOB", "Bob", " bob "):
            thief = await ChatPeer.open(server_thread.url)
            reply = await thief.join(spelling, "r", since=0)
            assert reply["code"] == "name_taken"
            after = repr(await thief.nothing(0.1))
            assert not any(text in after for text in secrets_said)
            await thief.close()
        for peer in (alice, bob):  # a client with a full receive queue cannot finish closing
            await peer.nothing(0.05)

    run(scenario())


def test_a_left_members_name_does_not_unlock_its_private_messages(server_thread):
    async def scenario():
        alice = await ChatPeer.open(server_thread.url)
        await alice.join("alice", "r")
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "r")
        await alice.send(type="chat", content="secret for bob", nonce="s", to="bob")
        await bob.expect("chat", content="secret for bob")
        await bob.close()
        await asyncio.sleep(0.1)
        thief = await ChatPeer.open(server_thread.url)
        await thief.join("BOB", "r", since=0)
        return (await thief.expect("history"))["messages"]

    history = run(scenario())
    assert [m["content"] for m in history] == []


# TLS ------------------------------------------------------------------------------------------


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, made by the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


def openssl_fingerprint(cert: Path) -> str:
    """What ``openssl x509 -fingerprint -sha256`` says, to compare ours with."""
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(cert)],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_tls_serves_https_and_wss_on_one_port(tmp_path, certificate):
    cert, key = certificate
    thread = ServerThread(make_config(tmp_path, certfile=cert, keyfile=key))
    thread.start()
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        port = thread.port
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/", context=trust, timeout=5) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        # The same-origin rule knows the page came over https.
        here = f"127.0.0.1:{port}"
        assert _upgrade(port, {"Host": here, "Origin": f"https://{here}"}, tls=trust)[0] == 101
        assert _upgrade(port, {"Host": here, "Origin": f"http://{here}"}, tls=trust)[0] == 403

        async def scenario():
            alice = await ChatPeer.open(f"wss://127.0.0.1:{port}", ssl=trust)
            assert (await alice.join("alice", "r"))["type"] == "welcome"
            await alice.send(type="chat", content="encrypted", nonce="e")
            assert (await alice.expect("chat", nonce="e"))["id"] == 1
            with pytest.raises((InvalidMessage, OSError, TimeoutError)):
                await ChatPeer.open(f"ws://127.0.0.1:{port}", open_timeout=2)  # plain on a TLS port
            with pytest.raises(ssl.SSLCertVerificationError):
                await ChatPeer.open(f"wss://127.0.0.1:{port}")  # an untrusted certificate

        run(scenario())
    finally:
        thread.stop()


def test_unusable_certificate_fails_before_anything_listens(tmp_path, certificate):
    cert, _ = certificate
    with pytest.raises(TLSError, match="both a certificate"):
        ChatServer(make_config(tmp_path, certfile=cert))
    port = free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir",
         str(tmp_path), "--certfile", str(cert), "--keyfile", str(tmp_path / "missing.pem")],
        capture_output=True, text=True, timeout=20, check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("roomchat-server: cannot use the certificate"), proc.stderr


def test_headless_tls_server_prints_its_certificate_fingerprint(tmp_path, certificate):
    cert, key = certificate
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(free_port()), "--data-dir",
         str(tmp_path), "--certfile", str(cert), "--keyfile", str(key), "--log-level", "error"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        listening, fingerprint = proc.stdout.readline(), proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(10)
    assert "listening on wss://127.0.0.1:" in listening
    assert fingerprint.strip().endswith(": " + openssl_fingerprint(cert)), fingerprint
