"""The desktop client and a wss:// server with a self-signed certificate: trust on first use, and
the desktop host's own certificate pinned by the fingerprint its links carry."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

from conftest import TcpServer, free_port, make_config
from PySide6.QtWidgets import QMessageBox
from test_desktop_client import Member
from test_desktop_window import fill_and_join, online, until, windows  # noqa: F401 - the fixture
from test_security import make_certificate, openssl_fingerprint

from desktop.certificate import host_certificate
from desktop.client import CHANGED_CERTIFICATE, MISMATCHED_CERTIFICATE, UNTRUSTED_CERTIFICATE
from desktop.failures import Failure
from desktop.host import RoomHost
from desktop.trust import CertificateTrust, fetch_certificate, fingerprint, link_fingerprint, with_fingerprint
from server.thread import ServerThread


def _tls_server(data_dir: Path, cert_dir: Path, port: int) -> tuple[ServerThread, Path]:
    cert, key = make_certificate(cert_dir)
    thread = ServerThread(make_config(data_dir, port=port, certfile=cert, keyfile=key))
    thread.start()
    return thread, cert


def test_first_use_asks_then_remembers_and_a_changed_certificate_is_refused(run, tmp_path):
    port = free_port()
    trust_file = tmp_path / "trusted.json"
    url = f"https://127.0.0.1:{port}/"  # what a person copies from the host's window

    async def first_and_second_use() -> str:
        newcomer = Member(trust=CertificateTrust(trust_file))
        newcomer.conn.join(url, "alice", "lobby")
        _, shown = await newcomer.errorReceived.wait(lambda a: a[0] == UNTRUSTED_CERTIFICATE)
        assert newcomer.conn.state.value == "offline" and not trust_file.exists()
        after = len(newcomer.stateChanged.calls)
        newcomer.conn.trust_certificate()  # the person compared the fingerprint and said yes
        await newcomer.online(after=after)
        nonce = newcomer.conn.send("over TLS")
        await newcomer.messageDelivered.wait(lambda a: a[0] == nonce)
        await newcomer.conn.close()
        again = Member(trust=CertificateTrust(trust_file))
        await again.join(url, "alice", "lobby")  # remembered: no question this time
        assert again.errorReceived.calls == []
        await again.conn.close()
        return shown

    thread, cert = _tls_server(tmp_path / "data", tmp_path / "first", port)
    try:
        shown = run(first_and_second_use())
    finally:
        thread.stop()
    assert shown == openssl_fingerprint(cert)

    async def after_the_certificate_changed() -> tuple[str, str]:
        member = Member(trust=CertificateTrust(trust_file))
        member.conn.join(url, "alice", "lobby")
        code, shown = await member.errorReceived.wait()
        assert member.conn.state.value == "offline"
        assert member.stateChanged.calls[-1][1] == "the server's certificate changed"
        await member.conn.close()
        return code, shown

    thread, other = _tls_server(tmp_path / "data", tmp_path / "second", port)
    try:
        code, shown = run(after_the_certificate_changed())
    finally:
        thread.stop()
    assert code == CHANGED_CERTIFICATE and shown == openssl_fingerprint(other)


def test_the_window_shows_the_fingerprint_and_joins_only_after_yes(run, windows, tmp_path, artifacts):  # noqa: F811
    port = free_port()
    thread, cert = _tls_server(tmp_path / "data", tmp_path / "cert", port)
    window = windows("tls", trust=CertificateTrust(tmp_path / "trusted.json"))
    expected = openssl_fingerprint(cert)

    async def scenario():
        fill_and_join(window, "alice", f"https://127.0.0.1:{port}/")
        await until(lambda: getattr(window, "certificate_box", None) is not None, what="the question")
        box = window.certificate_box
        assert box.isVisible() and expected in box.text()
        assert not online(window)
        window.grab().save(str(artifacts / "desktop-certificate-question.png"))
        box.grab().save(str(artifacts / "desktop-certificate-box.png"))
        box.button(QMessageBox.StandardButton.No).click()  # no: stays offline, nothing stored
        await asyncio.sleep(0.3)
        assert not online(window) and not (tmp_path / "trusted.json").exists()
        window.certificate_box = None
        fill_and_join(window, "alice", f"https://127.0.0.1:{port}/")
        await until(lambda: getattr(window, "certificate_box", None) is not None, what="the question again")
        window.certificate_box.button(QMessageBox.StandardButton.Yes).click()
        await until(lambda: online(window), what="online over TLS")

    try:
        run(scenario())
    finally:
        thread.stop()


# The desktop host's own certificate, pinned by the link --------------------------------------


def _host(tmp_path: Path, key: str | None = None) -> RoomHost:
    host = RoomHost(host="127.0.0.1")
    assert host.start(0, tmp_path / "hosted", key, tls=True)
    return host


def _other_fingerprint(fp: str) -> str:
    """The same length and form, one digit changed (what a lookalike certificate would have)."""
    return ("0" if fp[0] != "0" else "1") + fp[1:]


class RecordingTLSServer:
    """A TLS server that answers nothing and keeps every byte a client sends after the handshake."""

    def __init__(self, certfile: Path, keyfile: Path) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(certfile, keyfile)
        self.received = bytearray()
        self.handshakes = 0
        self._server = TcpServer(self._serve, ssl=self.context)

    async def start(self) -> int:
        return await self._server.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        try:
            while chunk := await reader.read(4096):
                self.received += chunk
        except (ConnectionError, ssl.SSLError):
            pass

    async def close(self) -> None:
        await self._server.close()


def test_the_host_keeps_its_certificate_across_restarts_and_links_carry_it(qapp, run, tmp_path):
    host = _host(tmp_path)
    try:
        fp = host.fingerprint
        assert fp is not None and len(fp) == 95
        addresses = host.addresses()
        assert addresses == [(with_fingerprint(f"wss://127.0.0.1:{host.port}/", fp),
                              with_fingerprint(f"https://127.0.0.1:{host.port}/", fp))]
        assert all(link_fingerprint(url) == fp for pair in addresses for url in pair)
        served = run(fetch_certificate("127.0.0.1", host.port))
        assert fingerprint(served) == fp
        assert oct(host.certificate.keyfile.stat().st_mode & 0o777) == "0o600"
    finally:
        host.stop()
    assert host.fingerprint is None
    again = _host(tmp_path)
    try:
        assert again.fingerprint == fp and not again.certificate.created  # guests' pins still hold
    finally:
        again.stop()
    plain = RoomHost(host="127.0.0.1")
    assert plain.start(0, tmp_path / "hosted")
    try:
        assert plain.fingerprint is None and plain.addresses()[0][0].startswith("ws://")
    finally:
        plain.stop()


def test_a_guest_joining_by_the_link_pins_it_without_a_question(qapp, run, tmp_path):
    host = _host(tmp_path, key="s3cret")
    trust_file = tmp_path / "guest-trust.json"
    app_link, browser_link = host.addresses()[0]
    assert "?key=s3cret#fp=" in app_link

    async def scenario():
        guest = Member(trust=CertificateTrust(trust_file))
        await guest.join(app_link, "guest", "lobby")  # the key comes from the link, too
        assert guest.errorReceived.calls == [] and guest.conn.protocol_version == 2
        assert CertificateTrust(trust_file).pinned_fingerprint(f"127.0.0.1:{host.port}") == host.fingerprint
        nonce = guest.conn.send("encrypted hello")
        await guest.messageDelivered.wait(lambda a: a[0] == nonce)
        # The browser address typed into the app works the same (https:// -> wss://).
        other = Member(trust=CertificateTrust(tmp_path / "other-trust.json"))
        await other.join(browser_link, "other", "lobby")
        await other.sees("encrypted hello")
        assert other.errorReceived.calls == []
        await guest.conn.close()
        await other.conn.close()

    try:
        run(scenario())
    finally:
        host.stop()


def test_a_wrong_fingerprint_refuses_clearly_and_sends_nothing(qapp, run, tmp_path):
    made = host_certificate(tmp_path / "tls")
    trust_file = tmp_path / "trust.json"

    async def scenario() -> None:
        server = RecordingTLSServer(made.certfile, made.keyfile)
        port = await server.start()
        address = f"127.0.0.1:{port}"
        wrong = _other_fingerprint(made.fingerprint)
        link = with_fingerprint(f"wss://{address}/?key=s3cret", wrong)
        try:
            member = Member(trust=CertificateTrust(trust_file))
            member.conn.join(link, "alice", "lobby")
            code, shown = await member.errorReceived.wait()
            assert (code, shown) == (MISMATCHED_CERTIFICATE, made.fingerprint)
            assert member.conn.state.value == "offline"
            assert member.stateChanged.calls[-1][1] == "the server's certificate does not match the link"
            await asyncio.sleep(0.5)  # no retry comes
            assert member.reconnectScheduled.calls == [] and member.conn.state.value == "offline"
            assert not trust_file.exists()
            member.conn.trust_certificate()  # nothing to accept: the link is the host's word
            await asyncio.sleep(0.2)
            assert member.conn.state.value == "offline" and not trust_file.exists()
            assert server.handshakes >= 1 and bytes(server.received) == b""  # not even the upgrade

            # The pin from an earlier join names the link's certificate, but the server now
            # presents another: refused at the handshake, again before the upgrade.
            CertificateTrust(trust_file).trust(address, _der_of(host_certificate(tmp_path / "other")))
            pinned = CertificateTrust(trust_file).pinned_fingerprint(address)
            later = Member(trust=CertificateTrust(trust_file))
            later.conn.join(with_fingerprint(f"wss://{address}/?key=s3cret", pinned), "alice", "lobby")
            code, shown = await later.errorReceived.wait()
            assert (code, shown) == (MISMATCHED_CERTIFICATE, made.fingerprint)
            assert bytes(server.received) == b""
            await member.conn.close()
            await later.conn.close()
        finally:
            await server.close()

    run(scenario())


def _der_of(made) -> bytes:
    return ssl.PEM_cert_to_DER_cert(made.certfile.read_text())


def test_a_plain_client_gets_nothing_from_the_encrypted_port(qapp, run, tmp_path):
    host = _host(tmp_path, key="s3cret")
    port = host.port

    def plain_upgrade() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(f"GET /?key=s3cret HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            return answer

    async def scenario():
        answer = await asyncio.to_thread(plain_upgrade)
        assert b"HTTP/1.1" not in answer and b"welcome" not in answer  # a TLS alert at most
        member = Member(trust=CertificateTrust(tmp_path / "trust.json"))
        member.conn.join(f"ws://127.0.0.1:{port}/?key=s3cret", "alice", "lobby")
        failure, _ = await member.connectionFailed.wait()
        assert failure == Failure.NEEDS_TLS.name  # "...it may need TLS (try wss://)"
        assert all(state != "online" for state, _ in member.stateChanged.calls)
        await member.conn.close()

    try:
        run(scenario())
    finally:
        host.stop()
