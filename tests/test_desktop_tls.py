"""The desktop client and a wss:// server with a self-signed certificate: trust on first use."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import free_port, make_config
from test_desktop_client import Member
from test_security import make_certificate

from desktop.client import CHANGED_CERTIFICATE, UNTRUSTED_CERTIFICATE
from desktop.trust import CertificateTrust
from server.thread import ServerThread


def _openssl_fingerprint(cert: Path) -> str:
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(cert)],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1]


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
        code, shown = await newcomer.errorReceived.wait(lambda a: a[0] == UNTRUSTED_CERTIFICATE)
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
    assert shown == _openssl_fingerprint(cert)

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
    assert code == CHANGED_CERTIFICATE and shown == _openssl_fingerprint(other)
