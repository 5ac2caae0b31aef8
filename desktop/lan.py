"""This machine's LAN addresses: where peers reach a room hosted here.

No extra package (ifaddr, netifaces): the host name's addresses plus, for each private
range, the local address the routing table would use to reach it. ``connect()`` on a UDP
socket only picks a route; it sends no packet.
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["ipv4_addresses"]

_ROUTE_PROBES = ("10.255.255.254", "172.31.255.254", "192.168.255.254", "192.0.2.1")
"""Destinations whose route reveals an outgoing address (the last is TEST-NET-1, the default route)."""


def _routed_address(destination: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((destination, 9))
            return probe.getsockname()[0]
        except OSError:
            return None


def _host_name_addresses() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return [info[4][0] for info in infos]


def _usable(address: str) -> bool:
    ip = ipaddress.IPv4Address(address)
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def ipv4_addresses() -> list[str]:
    """Non-loopback IPv4 addresses of this machine, private (LAN) ones first, no duplicates."""
    found: list[str] = []
    for address in [*_host_name_addresses(), *(_routed_address(d) for d in _ROUTE_PROBES)]:
        if address and address not in found and _usable(address):
            found.append(address)
    return sorted(found, key=lambda a: not ipaddress.IPv4Address(a).is_private)
