"""This machine's LAN addresses: where peers reach a server hosted here, and where it announces.

Read from the network adapters (``ifaddr``, a zeroconf dependency). Virtual adapters
(Docker, veth pairs, libvirt, VMware, VirtualBox, WSL and Hyper-V's vEthernet) are left out:
an address there is reachable from containers or VMs on this machine, never from a colleague.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import ifaddr

__all__ = ["ipv4_addresses", "is_virtual_adapter"]

_VIRTUAL_NAMES = ("docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "lxcbr", "lxdbr", "podman",
                  "cni", "flannel", "vethernet", "hyper-v", "wsl", "virtualbox", "vmware")
"""Name fragments of virtual adapters (Linux names, and Windows' adapter descriptions)."""


def is_virtual_adapter(adapter: ifaddr.Adapter) -> bool:
    names = f"{adapter.name} {adapter.nice_name}".lower()
    return any(fragment in names for fragment in _VIRTUAL_NAMES)


def _usable(address: str) -> bool:
    ip = ipaddress.IPv4Address(address)
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def ipv4_addresses(adapters: Iterable[ifaddr.Adapter] | None = None) -> list[str]:
    """Non-loopback IPv4 addresses of real adapters, private (LAN) ones first, no duplicates."""
    found: list[str] = []
    for adapter in ifaddr.get_adapters() if adapters is None else adapters:
        if is_virtual_adapter(adapter):
            continue
        for ip in adapter.ips:
            if ip.is_IPv4 and ip.ip not in found and _usable(ip.ip):
                found.append(ip.ip)
    return sorted(found, key=lambda a: not ipaddress.IPv4Address(a).is_private)
