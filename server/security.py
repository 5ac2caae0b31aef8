"""Who may talk to the server from a browser: the Origin and Host checks (no I/O here).

A web page anywhere on the internet may open a websocket to a LAN address, and the browser
sends along whatever the user's network lets it reach. Two checks stop that:

* **Origin**: a browser names the page that opens a websocket. Only pages this server served
  (``Origin`` equal to ``http(s)://{Host}``) and origins the operator listed may connect.
  Native clients send no ``Origin`` and are let through (they are not a confused deputy).
  ``Origin: null`` (a page opened from ``file://``) is refused unless ``null`` is listed.
* **Host** (DNS rebinding): an attacker's name that resolves to a LAN address passes the
  Origin check, because the browser believes the page and the socket share an origin. So the
  ``Host`` header must be an IP literal, ``localhost``, a ``.local`` name, this machine's
  name, or the host of a listed origin.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["OriginPolicy", "compact_fingerprint", "fingerprint", "normalize_origin", "parse_fingerprint",
           "pem_fingerprint"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_HEX_SHA256 = re.compile(r"^[0-9A-F]{64}$")
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


def fingerprint(der: bytes) -> str:
    """``AB:CD:…``: a certificate's SHA-256, as browsers and ``openssl x509 -fingerprint`` show it.

    The server prints it at start; the desktop app shows it before trusting a self-signed host.
    """
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def compact_fingerprint(fingerprint_text: str) -> str:
    """The 64 hex digits without colons: how links (``#fp=``) and the LAN announcement carry it."""
    return fingerprint_text.replace(":", "").upper()


def parse_fingerprint(text: str) -> str | None:
    """``AB:CD:…`` from 64 hex digits with or without colons, any case; None if it is not one."""
    digits = text.replace(":", "").strip().upper()
    if not _HEX_SHA256.match(digits):
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


def pem_fingerprint(pem: str) -> str | None:
    """The fingerprint of the first certificate in a PEM text, or None if there is none."""
    found = _PEM_CERTIFICATE.search(pem)
    return fingerprint(base64.b64decode("".join(found.group(1).split()))) if found else None


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, without a default port or a trailing slash."""
    origin = origin.strip().rstrip("/").lower()
    scheme, sep, authority = origin.partition("://")
    if not sep:
        return origin  # "null" and other opaque origins compare as they are
    return f"{scheme}://{_strip_default_port(authority, scheme)}"


def _strip_default_port(authority: str, scheme: str) -> str:
    host, port = _split_host_port(authority)
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return host
    return f"{host}:{port}"


def _split_host_port(authority: str) -> tuple[str, str | None]:
    """``[::1]:8080`` -> (``[::1]``, ``8080``); ``host`` -> (``host``, None)."""
    authority = authority.lower()
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return authority, None
        rest = authority[end + 1 :]
        return authority[: end + 1], rest[1:] if rest.startswith(":") else None
    host, sep, port = authority.rpartition(":")
    if not sep:
        return authority, None
    return host, port


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class OriginPolicy:
    """The rules for one server; :meth:`refusal` says why a handshake is refused, or None."""

    allowed_origins: frozenset[str] = frozenset()
    machine_names: frozenset[str] = frozenset()
    secure: bool = False

    @classmethod
    def create(cls, allowed_origins: Iterable[str], machine_names: Iterable[str], *, secure: bool) -> OriginPolicy:
        """``machine_names``: this computer's host names (the caller asks the OS)."""
        return cls(
            frozenset(normalize_origin(o) for o in allowed_origins),
            frozenset(n.lower().rstrip(".") for n in machine_names if n),
            secure,
        )

    def host_allowed(self, host_header: str) -> bool:
        host, _ = _split_host_port(host_header.strip())
        host = host.rstrip(".")
        if not host:
            return False
        if _is_ip_literal(host) or host == "localhost" or host.endswith((".localhost", ".local")):
            return True
        if host in self.machine_names:
            return True
        return any(_split_host_port(o.partition("://")[2])[0] == host for o in self.allowed_origins)

    def refusal(self, origin: str | None, host: str | None) -> str | None:
        """None if a websocket handshake with these headers may proceed, else the reason."""
        if host is not None and not self.host_allowed(host):
            return (f"host {host!r} is not a name of this server "
                    f"(start the server with --allow-origin http://{host} to allow it)")
        if origin is None:
            return None
        normalized = normalize_origin(origin)
        if normalized in self.allowed_origins:
            return None
        if host is not None:
            scheme = "https" if self.secure else "http"
            if normalized == normalize_origin(f"{scheme}://{host}"):
                return None
        return f"origin {origin!r} may not connect (start the server with --allow-origin to allow it)"
