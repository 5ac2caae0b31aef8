"""The desktop client and a wss:// server with a self-signed certificate: trust on first use."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import free_port, make_config
from PySide6.QtWidgets import QMessageBox
from test_desktop_client import Member
from test_desktop_window import fill_and_join, online, until, windows  # noqa: F401 - the fixture
from test_security import make_certificate, openssl_fingerprint

from desktop.client import CHANGED_CERTIFICATE, UNTRUSTED_CERTIFICATE
from desktop.trust import CertificateTrust
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
