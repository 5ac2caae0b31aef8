"""The hosting app's own certificate (desktop/certificate.py) and the links that carry its fingerprint."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import stat
import sys

import pytest
from conftest import make_config
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from test_security import openssl_fingerprint

from desktop.certificate import CERTIFICATE_FILE, KEY_FILE, LIFETIME, RENEW_BEFORE, host_certificate
from desktop.trust import fetch_certificate, fingerprint, link_fingerprint, with_fingerprint
from server.thread import ServerThread

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="file modes are POSIX")


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_made_once_then_reused_with_the_same_fingerprint(tmp_path):
    folder = tmp_path / "tls"
    first = host_certificate(folder, addresses=["192.168.1.23"], hostname="laptop")
    assert first.created and first.certfile == folder / CERTIFICATE_FILE and first.keyfile == folder / KEY_FILE
    stored = first.certfile.read_bytes(), first.keyfile.read_bytes()
    again = host_certificate(folder, addresses=["10.0.0.9"], hostname="other")  # addresses changed: reused anyway
    assert not again.created and again.fingerprint == first.fingerprint
    assert (again.certfile.read_bytes(), again.keyfile.read_bytes()) == stored
    assert first.fingerprint == openssl_fingerprint(first.certfile)  # what guests' tools show
    assert not list(folder.glob("*.partial"))


@posix_only
def test_the_key_is_readable_by_its_owner_only(tmp_path):
    made = host_certificate(tmp_path / "tls")
    assert _mode(made.keyfile) == 0o600
    assert _mode(made.certfile) & 0o022 == 0  # nobody else may replace the certificate
    made.keyfile.chmod(0o644)  # e.g. the folder was copied with a careless tool
    again = host_certificate(tmp_path / "tls")
    assert not again.created and _mode(again.keyfile) == 0o600


@posix_only
def test_the_key_is_never_readable_by_others_even_while_written(tmp_path, monkeypatch):
    """os.open gets mode 0600 before a byte is written (no chmod after the fact)."""
    modes = []
    real_open = os.open

    def recording_open(path, flags, mode=0o777, *args, **kwargs):
        if str(path).endswith(KEY_FILE + ".partial"):
            modes.append(mode)
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    previous = os.umask(0)  # even with a permissive umask
    try:
        host_certificate(tmp_path / "tls")
    finally:
        os.umask(previous)
    assert modes == [0o600]
    assert _mode(tmp_path / "tls" / KEY_FILE) == 0o600


@pytest.mark.parametrize("damage", ["key missing", "certificate missing", "certificate garbage",
                                    "key garbage", "key of another certificate"])
def test_a_missing_or_broken_pair_is_made_again(tmp_path, damage):
    folder = tmp_path / "tls"
    first = host_certificate(folder)
    if damage == "key missing":
        first.keyfile.unlink()
    elif damage == "certificate missing":
        first.certfile.unlink()
    elif damage == "certificate garbage":
        first.certfile.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    elif damage == "key garbage":
        first.keyfile.write_bytes(b"\x00" * 40)
    else:
        other = host_certificate(tmp_path / "other")
        first.keyfile.write_bytes(other.keyfile.read_bytes())
    again = host_certificate(folder)
    assert again.created and again.fingerprint != first.fingerprint
    served = x509.load_pem_x509_certificate(again.certfile.read_bytes())
    assert fingerprint(served.public_bytes(Encoding.DER)) == again.fingerprint


def test_replaced_shortly_before_it_expires_not_earlier(tmp_path):
    folder = tmp_path / "tls"
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    first = host_certificate(folder, now=start)
    late_but_fine = start + LIFETIME - RENEW_BEFORE - datetime.timedelta(days=1)
    assert not host_certificate(folder, now=late_but_fine).created
    renewed = host_certificate(folder, now=start + LIFETIME - RENEW_BEFORE + datetime.timedelta(days=1))
    assert renewed.created and renewed.fingerprint != first.fingerprint
    before_its_time = host_certificate(folder, now=start - datetime.timedelta(days=30))  # clock far back
    assert before_its_time.created


def test_the_certificate_names_this_host_honestly(tmp_path):
    made = host_certificate(tmp_path / "tls", addresses=["192.168.1.23", "10.1.2.3", "not an ip"],
                            hostname="Annas-Laptop")
    certificate = x509.load_pem_x509_certificate(made.certfile.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "annas-laptop", "annas-laptop.local"]
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address(a) for a in ("127.0.0.1", "::1", "192.168.1.23", "10.1.2.3")}
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime <= datetime.timedelta(days=826)  # Apple refuses longer server certificates
    # A name that is not a DNS name is left out rather than made up.
    odd = host_certificate(tmp_path / "odd", hostname="Anna’s MacBook")
    odd_names = x509.load_pem_x509_certificate(odd.certfile.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert odd_names == ["localhost"]


def test_the_real_server_serves_it(tmp_path, run):
    made = host_certificate(tmp_path / "tls")
    thread = ServerThread(make_config(tmp_path / "data", certfile=made.certfile, keyfile=made.keyfile))
    thread.start()
    try:
        der = run(asyncio.wait_for(fetch_certificate("127.0.0.1", thread.port), 10))
    finally:
        thread.stop()
    assert fingerprint(der) == made.fingerprint


# Links ------------------------------------------------------------------------------------


def test_links_carry_the_fingerprint_in_their_fragment():
    fp = "7D:D5:E9:93:EC:C2:5A:59:BE:78:6F:A4:EF:FB:36:78:A7:66:2E:06:2C:24:45:99:E2:A6:1A:2C:1E:FB:65:15"
    link = with_fingerprint("https://192.168.1.23:8080/?key=a%20b", fp)
    assert link == "https://192.168.1.23:8080/?key=a%20b#fp=" + fp.replace(":", "")
    assert link_fingerprint(link) == fp
    assert link_fingerprint(link.lower()) == fp  # typed in lower case
    assert link_fingerprint("wss://h:1/#fp=" + fp) == fp  # with colons
    assert link_fingerprint("wss://h:1/?key=x") is None
    assert link_fingerprint("wss://h:1/#other=1") is None
    for broken in ("wss://h:1/#fp=", "wss://h:1/#fp=ABCD", "wss://h:1/#fp=" + "G" * 64,
                   "wss://h:1/#fp=" + "A" * 65):
        with pytest.raises(ValueError):
            link_fingerprint(broken)
