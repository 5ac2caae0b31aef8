"""The address self-test: is the hosted server reachable at each address it shows?

When hosting starts, the app connects to its own server through every LAN address on the
share card (a real connection from this machine to itself) and asks for ``/healthz``. An
address that does not answer is marked with the likely cause, so the host can fix it before
colleagues stand around typing it in vain.
"""

from __future__ import annotations

import asyncio
import enum
import json
import ssl
import sys
from dataclasses import dataclass

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

__all__ = ["Cause", "Reachability", "check_address", "check_addresses", "CHECK_TIMEOUT"]

CHECK_TIMEOUT = 2.0
"""Seconds one address may take to answer."""


class Cause(enum.Enum):
    """Why an address failed; the value is the English text (translation context "Reachability")."""

    REFUSED = QT_TRANSLATE_NOOP(
        "Reachability", "nothing accepts connections there: the server may listen on loopback only")
    TIMED_OUT = QT_TRANSLATE_NOOP("Reachability", "no answer: a firewall may block port %1")
    NOT_OURS = QT_TRANSLATE_NOOP("Reachability", "another program answers on port %1")
    UNREACHABLE = QT_TRANSLATE_NOOP("Reachability", "this computer cannot reach that address")


WINDOWS_HINT = QT_TRANSLATE_NOOP(
    "Reachability", "On Windows, a network set to Public blocks discovery and incoming "
                    "connections: make it Private in the network settings.")


@dataclass(frozen=True)
class Reachability:
    """The result for one address."""

    address: str
    port: int
    ok: bool
    cause: Cause | None = None

    def cause_text(self) -> str:
        """The cause in the current language (with the Windows network-profile hint there)."""
        if self.cause is None:
            return ""
        text = QCoreApplication.translate("Reachability", self.cause.value).replace("%1", str(self.port))
        if sys.platform == "win32":
            text += " " + QCoreApplication.translate("Reachability", WINDOWS_HINT)
        return text


async def check_address(address: str, port: int, *, tls: bool = False,
                        timeout: float = CHECK_TIMEOUT) -> Reachability:
    """Connect to ``address:port`` and ask for /healthz; ok only if RoomChat answers."""
    context = None
    if tls:  # reachability only: the host's own certificate is checked by its guests
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port, ssl=context), timeout)
    except ConnectionRefusedError:
        return Reachability(address, port, False, Cause.REFUSED)
    except TimeoutError:
        return Reachability(address, port, False, Cause.TIMED_OUT)
    except OSError:
        return Reachability(address, port, False, Cause.UNREACHABLE)
    try:
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: {address}:{port}\r\nConnection: close\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(4096), timeout)
    except TimeoutError:
        return Reachability(address, port, False, Cause.TIMED_OUT)
    except OSError:
        return Reachability(address, port, False, Cause.NOT_OURS)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    try:
        ours = head.startswith(b"HTTP/1.1 200") and json.loads(body).get("status") == "ok"
    except (ValueError, AttributeError):
        ours = False
    return Reachability(address, port, ours, None if ours else Cause.NOT_OURS)


async def check_addresses(addresses: list[str], port: int, *, tls: bool = False,
                          timeout: float = CHECK_TIMEOUT) -> dict[str, Reachability]:
    """Every address at once (a failing one costs at most ``timeout``, not one each)."""
    results = await asyncio.gather(*(check_address(a, port, tls=tls, timeout=timeout) for a in addresses))
    return {result.address: result for result in results}
