"""The hosting app's own TLS certificate: made once, kept in the host's data folder, reused.

No public authority signs a certificate for a laptop on a LAN, so the app signs its own. What
makes that safe is the fingerprint: guests pin the SHA-256 the share card shows (the app by the
link, a person by comparing it with the browser's warning page). That only works if the
fingerprint stays the same, so the certificate is reused on every start and made again only
when it is missing, unreadable, does not match its key, or is about to expire.

The key is an ECDSA P-256 key (every browser and OpenSSL accept it; made in about a
millisecond), written with mode 0600 before any byte of it is in the file. The certificate's
subjectAltName names what the host was reached by when it was made: ``localhost``, the machine
name and ``name.local``, 127.0.0.1, ::1 and the LAN addresses.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.security import fingerprint

__all__ = ["CERTIFICATE_FILE", "KEY_FILE", "LIFETIME", "RENEW_BEFORE", "HostCertificate", "host_certificate"]

CERTIFICATE_FILE = "host-certificate.pem"
KEY_FILE = "host-key.pem"

LIFETIME = datetime.timedelta(days=825)
"""Validity of a new certificate: the longest Apple's clients accept for a server certificate."""

RENEW_BEFORE = datetime.timedelta(days=30)
"""A certificate closer than this to its end is replaced at the next start (guests re-pin)."""

_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class HostCertificate:
    """A certificate and key on disk, ready for ``ServerConfig(certfile=, keyfile=)``."""

    certfile: Path
    keyfile: Path
    fingerprint: str
    """SHA-256 of the DER certificate, ``AB:CD:…`` as browsers show it."""
    created: bool
    """True if made by this call, False if an existing one was reused."""


def host_certificate(folder: Path, *, addresses: Iterable[str] = (), hostname: str | None = None,
                     now: datetime.datetime | None = None) -> HostCertificate:
    """The certificate in ``folder``, reused if still good, else a new one.

    ``addresses``: the LAN IP addresses to name in a new certificate; ``hostname``: the
    machine's name (default: the OS's). Raises OSError if the folder cannot be written.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    certfile, keyfile = folder / CERTIFICATE_FILE, folder / KEY_FILE
    existing = _usable(certfile, keyfile, now)
    if existing is not None:
        _restrict(keyfile)
        return HostCertificate(certfile, keyfile, fingerprint(existing.public_bytes(serialization.Encoding.DER)), False)
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _self_signed(key, _names(hostname if hostname is not None else socket.gethostname()),
                               _ips(addresses), now)
    _write(keyfile, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()), private=True)
    _write(certfile, certificate.public_bytes(serialization.Encoding.PEM), private=False)
    return HostCertificate(certfile, keyfile, fingerprint(certificate.public_bytes(serialization.Encoding.DER)), True)


def _usable(certfile: Path, keyfile: Path, now: datetime.datetime) -> x509.Certificate | None:
    """The stored certificate if it parses, matches the stored key and lives on; else None."""
    try:
        certificate = x509.load_pem_x509_certificate(certfile.read_bytes())
        key = serialization.load_pem_private_key(keyfile.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != certificate.public_key():
        return None
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc - RENEW_BEFORE:
        return None
    return certificate


def _names(hostname: str) -> list[str]:
    """localhost, plus the machine name and name.local where they are valid DNS names."""
    names = ["localhost"]
    label = hostname.strip().lower().rstrip(".").removesuffix(".local")
    if label and all(_DNS_LABEL.match(part) for part in label.split(".")):
        names += [label, f"{label.split('.')[0]}.local"]
    return list(dict.fromkeys(names))


def _ips(addresses: Iterable[str]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    for address in addresses:
        try:
            found.append(ipaddress.ip_address(address))
        except ValueError:
            continue
    return list(dict.fromkeys(found))


def _self_signed(key: ec.EllipticCurvePrivateKey, names: list[str], ips: list, now: datetime.datetime) -> x509.Certificate:
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RoomChat"),
        x509.NameAttribute(NameOID.COMMON_NAME, names[1] if len(names) > 1 else names[0]),
    ])
    alt_names = [x509.DNSName(name) for name in names] + [x509.IPAddress(ip) for ip in ips]
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))  # a guest whose clock is a little behind
        .not_valid_after(now + LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _write(path: Path, data: bytes, *, private: bool) -> None:
    """Write through a temporary file and rename, so a crash never leaves half a key."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def _restrict(keyfile: Path) -> None:
    """A reused key stays readable by its owner only (someone may have copied the folder)."""
    if keyfile.stat().st_mode & 0o077:
        keyfile.chmod(0o600)
