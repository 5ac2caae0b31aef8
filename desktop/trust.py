"""Trust on first use for chat servers with a self-signed certificate (``wss://``).

A LAN host has no certificate a public CA would sign. The first time the app meets a
certificate no CA vouches for, the person compares its SHA-256 fingerprint with the one the
host shows and accepts it; from then on connections to that ``host:port`` trust exactly that
certificate, and a different one (a changed server, or someone in the middle) is refused
loudly instead of being asked about again.

A link from the host's share card (or its LAN announcement) carries the fingerprint in its
fragment, ``#fp=`` and 64 hex digits: the app joining by it pins that certificate without
asking, and refuses a server that presents any other. The fragment never leaves the guest's
machine (browsers and our client do not send it), so it cannot leak to a listener.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from server.security import compact_fingerprint, fingerprint, parse_fingerprint, pem_fingerprint

__all__ = ["CertificateTrust", "FINGERPRINT_PARAMETER", "certificate_address", "default_trust_file",
           "fetch_certificate", "fingerprint", "link_fingerprint", "with_fingerprint"]

FINGERPRINT_PARAMETER = "fp"
"""The link fragment's parameter that names the host certificate's SHA-256."""

def with_fingerprint(url: str, fingerprint_text: str) -> str:
    """``url`` with ``#fp=`` and the fingerprint's 64 hex digits (no colons: shorter QR codes)."""
    return f"{url.split('#', 1)[0]}#{FINGERPRINT_PARAMETER}={compact_fingerprint(fingerprint_text)}"


def link_fingerprint(url: str) -> str | None:
    """The fingerprint (``AB:CD:…``) a link's ``#fp=`` names, None if it names none.

    Raises ValueError if it names one that is not a SHA-256 (a link cut short or edited).
    """
    values = parse_qs(urlsplit(url.strip()).fragment, keep_blank_values=True).get(FINGERPRINT_PARAMETER)
    if not values:
        return None
    parsed = parse_fingerprint(values[0])
    if parsed is None:
        raise ValueError(f"the link's certificate fingerprint is not a SHA-256: {values[0]!r}")
    return parsed


async def fetch_certificate(host: str, port: int, timeout: float = 10.0) -> bytes:
    """The certificate a TLS server presents, without trusting it (to show its fingerprint)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # not create_default_context(): loading the
    context.check_hostname = False                      # system's CAs it never uses costs ~30 ms
    context.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context), timeout)
    try:
        return writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()


def certificate_address(url: str) -> str:
    """``host:port`` of a wss:// address: what an accepted certificate is remembered under."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 443}"


def default_trust_file() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("RoomChat", appauthor=False)) / "trusted-certificates.json"


class CertificateTrust:
    """The certificates a person accepted, by ``host:port``, kept in a JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path

    def _load(self) -> dict[str, str]:
        path = self._path or default_trust_file()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}

    def pinned(self, address: str) -> str | None:
        """The PEM certificate accepted for ``address`` (``host:port``), if any."""
        return self._load().get(address)

    def pinned_fingerprint(self, address: str) -> str | None:
        """The SHA-256 of the certificate accepted for ``address``, if any."""
        pem = self.pinned(address)
        return pem_fingerprint(pem) if pem is not None else None

    def trust(self, address: str, der: bytes) -> None:
        """Accept ``der`` for ``address`` from now on (replacing an older one)."""
        path = self._path or default_trust_file()
        entries = self._load()
        entries[address] = ssl.DER_cert_to_PEM_cert(der)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entries, indent=1), encoding="utf-8")

    def context_for(self, address: str) -> ssl.SSLContext:
        """Trust exactly the accepted certificate, or else what the system's CAs vouch for."""
        pem = self.pinned(address)
        if pem is None:
            return ssl.create_default_context()
        context = ssl.create_default_context(cadata=pem)
        context.check_hostname = False  # a LAN host is reached by IP; the pin names the certificate
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a leaf, not a CA, is the anchor
        return context
