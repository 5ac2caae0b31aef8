"""Which certificate a ``wss://`` connection trusts, decided before a byte of the room is sent.

Three sources, strongest first: the fingerprint in the link the person joined by (the host's
share card or LAN announcement, see :mod:`desktop.trust`), a certificate the person accepted
before, and the system's certificate authorities. A server presenting anything else is
refused; only the trust-on-first-use case is put to the person as a question.

The link's fingerprint is checked on a separate TLS handshake before the websocket upgrade,
because the upgrade request already carries the room key in its query: a mismatching server
never sees the key, nor the name or the room.
"""

from __future__ import annotations

import ssl

from desktop.failures import classify
from desktop.session_end import SessionLost, SessionStop, failure_detail
from desktop.trust import CertificateTrust, certificate_address, fetch_certificate, fingerprint

__all__ = ["CHANGED_CERTIFICATE", "MISMATCHED_CERTIFICATE", "UNTRUSTED_CERTIFICATE", "ServerCertificates"]

UNTRUSTED_CERTIFICATE = "untrusted_certificate"
"""Error code: a wss:// server's certificate is vouched for by nobody; the text is its
SHA-256 fingerprint, for the person to compare and accept with ``accept_offered()``."""

CHANGED_CERTIFICATE = "changed_certificate"
"""Error code: the server presents another certificate than the one accepted before."""

MISMATCHED_CERTIFICATE = "mismatched_certificate"
"""Error code: the server's certificate is not the one the link names; the text is the
fingerprint it presented. Never offered for acceptance: the link is the host's word."""


class ServerCertificates:
    """The trust decisions of one ChatConnection.

    Attributes:
        expected: the fingerprint the link named (None: the link named none).
    """

    def __init__(self, trust: CertificateTrust) -> None:
        self._trust = trust
        self._offered: tuple[str, bytes] | None = None
        self.expected: str | None = None

    def context(self, url: str) -> ssl.SSLContext | None:
        """The TLS context for ``url`` (None for ws://)."""
        if not url.startswith("wss:"):
            return None
        return self._trust.context_for(certificate_address(url))

    async def pin_expected(self, url: str, timeout: float) -> None:
        """Make the link's certificate the accepted one for its address, or stop.

        Raises SessionStop (MISMATCHED_CERTIFICATE) if the server presents another, and
        SessionLost if it cannot be reached. Does nothing without a fingerprint in the link,
        or once that certificate is the accepted one (reconnects do no extra handshake).
        """
        if self.expected is None or not url.startswith("wss:"):
            return
        address = certificate_address(url)
        if self._trust.pinned_fingerprint(address) == self.expected:
            return
        der = await self._fetch(address, timeout)
        if fingerprint(der) != self.expected:
            raise self._mismatch(der)
        self._trust.trust(address, der)

    async def refused(self, url: str, timeout: float) -> SessionStop | SessionLost:
        """Why the handshake's certificate check failed: fetch the certificate to show it."""
        address = certificate_address(url)
        try:
            der = await self._fetch(address, timeout)
        except SessionLost as lost:
            return lost
        if self.expected is not None:
            return self._mismatch(der)  # it changed between our check and the connection
        self._offered = (address, der)
        if self._trust.pinned(address) is not None:
            return SessionStop("the server's certificate changed", CHANGED_CERTIFICATE, fingerprint(der))
        return SessionStop("the server's certificate is not trusted yet", UNTRUSTED_CERTIFICATE, fingerprint(der))

    def accept_offered(self) -> bool:
        """Trust the certificate last put to the person; False if there is none."""
        if self._offered is None:
            return False
        address, der = self._offered
        self._trust.trust(address, der)
        self._offered = None
        return True

    @staticmethod
    async def _fetch(address: str, timeout: float) -> bytes:
        host, _, port = address.rpartition(":")
        try:
            return await fetch_certificate(host.strip("[]"), int(port), timeout)
        except (OSError, TimeoutError) as exc:
            raise SessionLost(classify(exc, tls=True), failure_detail(exc)) from None

    def _mismatch(self, der: bytes) -> SessionStop:
        return SessionStop("the server's certificate does not match the link", MISMATCHED_CERTIFICATE,
                           fingerprint(der))
