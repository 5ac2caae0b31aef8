"""Discovery: the TXT record, the server's room reports, virtual adapters, and real mDNS
between separate processes inside a network namespace of the test's own.

Nothing here announces or browses on this machine's network: the mDNS scenario
(tests/lan_scenario.py) runs under ``unshare --net`` where only loopback exists.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import ifaddr
import pytest
from conftest import ChatPeer, make_config
from test_desktop_window import online, until, windows  # noqa: F401 - the fixture

from desktop.discovery import NetworkHost, entries_for
from desktop.trust import link_fingerprint
from server.advertise import MAX_ANNOUNCED_ROOMS, Announcement, decode_txt, encode_txt, fullest_rooms
from server.app import ROOMS_DEBOUNCE, ChatServer
from server.lan import ipv4_addresses

ROOT = Path(__file__).resolve().parents[1]
APPEAR_WITHIN = 3.0
VANISH_WITHIN = 5.0


def test_the_txt_record_round_trips_and_never_holds_more_than_it_should():
    announcement = Announcement(name="Dora’s laptop 多拉", port=8080, key_required=True, tls=True,
                                rooms=(("standup", 3), ("咖啡", 1), ("a:b", 2)))
    properties = encode_txt(announcement)
    assert all(len(f"{k}={v}".encode()) <= 255 for k, v in properties.items())
    wire = {k.encode(): v.encode() for k, v in properties.items()}  # as zeroconf returns them
    assert decode_txt(wire) == announcement


def test_an_encrypted_host_announces_its_certificate_fingerprint_and_the_list_pins_it():
    fp = ":".join(f"{n:02X}" for n in range(32))
    announcement = Announcement(name="Dora", port=8443, tls=True, fingerprint=fp)
    properties = encode_txt(announcement)
    assert properties["fp"] == fp.replace(":", "") and len(f"fp={properties['fp']}".encode()) <= 255
    wire = {k.encode(): v.encode() for k, v in properties.items()}
    assert decode_txt(wire) == announcement
    host = NetworkHost("Dora._roomchat._tcp.local.", "192.168.1.23", decode_txt(wire))
    assert host.url == "wss://192.168.1.23:8443/"  # what recent servers are matched by
    assert link_fingerprint(host.join_url) == fp
    assert [entry.url for entry in entries_for([host], [])] == [host.join_url]
    # Without TLS there is nothing to pin; a damaged or foreign fp is dropped, not trusted.
    assert "fp" not in encode_txt(Announcement(name="Dora", port=8080, fingerprint=fp))
    assert decode_txt({**wire, b"tls": b"0"}).fingerprint == ""
    assert decode_txt({**wire, b"fp": b"ABCD"}).fingerprint == ""
    damaged = NetworkHost("x", "192.168.1.23", decode_txt({**wire, b"fp": b"zz" * 32}))
    assert damaged.join_url == "wss://192.168.1.23:8443/"  # the person is asked, as for any wss:// host


@pytest.mark.parametrize("properties", [
    {},
    {b"v": b"2"},
    {b"v": b"x", b"port": b"8080"},
    {b"v": b"2", b"port": b"0"},
    {b"v": b"2", b"port": b"99999"},
    {b"v": b"2", b"port": b"http"},
    {b"v": b"2", b"port": b"80", b"rooms": b"lots"},
])
def test_a_record_that_is_not_roomchat_is_ignored(properties):
    assert decode_txt(properties) is None


def test_damaged_room_entries_are_skipped_and_the_count_is_capped():
    properties = {b"v": b"2", b"port": b"8080", b"rooms": b"999", b"r0": b"x:bad", b"r1": b"2:ok",
                  b"r2": b"3:", b"r3": None, b"name": b"\xff\xfe"}
    announcement = decode_txt(properties)
    assert announcement is not None and announcement.rooms == (("ok", 2),)
    many = {f"room-{n}": n for n in range(40)}
    assert len(fullest_rooms(many)) == MAX_ANNOUNCED_ROOMS
    assert fullest_rooms(many)[0] == ("room-39", 39)


def test_the_server_reports_rooms_once_per_burst(tmp_path):
    reports: list[dict[str, int]] = []

    async def scenario():
        server = ChatServer(make_config(tmp_path / "data"))
        server.add_rooms_listener(reports.append)
        await server.start()
        url = f"ws://127.0.0.1:{server.port}"
        peers = [await ChatPeer.open(url) for _ in range(3)]
        for number, peer in enumerate(peers):
            await peer.join(f"user{number}", "standup" if number < 2 else "lunch")
        await asyncio.sleep(ROOMS_DEBOUNCE + 0.3)
        assert reports == [{"standup": 2, "lunch": 1}]  # one report for the three joins
        await peers[2].close()
        await asyncio.sleep(ROOMS_DEBOUNCE + 0.3)
        assert reports[-1] == {"standup": 2}
        await server.stop()

    asyncio.run(scenario())


def test_virtual_adapters_are_not_offered():
    def adapter(name: str, ip: str, nice: str | None = None) -> ifaddr.Adapter:
        return ifaddr.Adapter(name, nice or name, [ifaddr.IP(ip, 24, name)])

    adapters = [adapter("docker0", "172.17.0.1"), adapter("veth12ab", "10.200.0.1"),
                adapter("virbr0", "192.168.122.1"), adapter("vmnet8", "192.168.200.1"),
                adapter("{GUID-1}", "172.28.0.1", "vEthernet (WSL)"),
                adapter("{GUID-2}", "172.29.0.1", "Hyper-V Virtual Ethernet Adapter"),
                adapter("lo", "127.0.0.1"), adapter("wlan0", "8.8.4.4"), adapter("eth0", "192.168.1.23")]
    assert ipv4_addresses(adapters) == ["192.168.1.23", "8.8.4.4"]


def test_server_cli_refuses_a_bad_mdns_interface(tmp_path):
    result = subprocess.run([sys.executable, "-m", "server", "--mdns-interface", "eth0", "--data-dir",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "not an IPv4 address" in result.stderr


def _namespace_problem() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare (util-linux) or ip (iproute2) is not installed"
    probe = subprocess.run(["unshare", "--net", "ip", "link", "set", "lo", "up"], capture_output=True)
    if probe.returncode != 0:
        return f"cannot make a network namespace here (needs root): {probe.stderr.decode().strip()}"
    return None


def _in_namespace(script: str, tag: str, *args) -> object:
    """Run tests/``script`` in a network namespace of its own (only loopback, multicast on);
    return the JSON it printed after ``tag``."""
    command = (f"ip link set lo up && ip link set lo multicast on && "
               f"exec {sys.executable} {ROOT / 'tests' / script} {' '.join(map(str, args))}")
    result = subprocess.run(["unshare", "--net", "sh", "-c", command], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith(tag + " "))
    return json.loads(line.removeprefix(tag + " "))


def test_two_apps_and_a_server_find_each_other_over_real_mdns(artifacts):
    problem = _namespace_problem()
    if problem:
        pytest.skip(problem)
    figures = _in_namespace("lan_scenario.py", "FIGURES", artifacts)
    print("\nmeasured in the namespace:", figures)
    assert figures["server_room_appears_s"] < APPEAR_WITHIN
    assert figures["app_room_appears_s"] < APPEAR_WITHIN
    assert figures["server_vanishes_s"] < VANISH_WITHIN
    assert figures["app_vanishes_s"] < VANISH_WITHIN
    for name in ("dns", "no-route"):
        for language in ("en", "zh_CN"):
            assert figures[f"{name}_shown_s_{language}"] < 2.0


def test_workers_announce_once_and_count_every_workers_members():
    """``--workers 2``: one service on the LAN for the one port (each worker announced itself
    before: the room was listed twice), counting the members of both workers."""
    problem = _namespace_problem() or (None if shutil.which("redis-server") else "redis-server is not installed")
    if problem:
        pytest.skip(problem)
    found = _in_namespace("workers_lan_scenario.py", "FOUND")
    assert list(found.values()) == [[["lobby", 12]]], found


def test_live_rooms_come_first_and_recent_servers_fill_in():
    from desktop.addresses import RecentServer
    from desktop.discovery import NetworkHost, entries_for

    live = NetworkHost("Dora-8080._roomchat._tcp.local.", "192.168.1.23",
                       Announcement(name="Dora", port=8080, key_required=True, rooms=(("standup", 3),)))
    empty = NetworkHost("Eve-9000._roomchat._tcp.local.", "192.168.1.24", Announcement(name="", port=9000))
    recent = [RecentServer("ws://192.168.1.23:8080/?key=k", ("standup",)),
              RecentServer("ws://10.0.0.9:8080/", ("lunch", "dev"))]
    entries = entries_for([live, empty], recent)
    assert [(e.host, e.room, e.members, e.locked, e.recent) for e in entries] == [
        ("Dora", "standup", 3, True, False),
        ("Eve-9000", "", 0, False, False),
        ("10.0.0.9:8080", "lunch", None, False, True),  # the live one is not repeated as recent
    ]


def test_enter_on_a_recent_server_joins_it(run, windows, server_thread, artifacts):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window = windows("recent")
    window.settings.remember_join(server_thread.url + "/", "lobby")
    window.lan_rooms.refresh()
    rooms = window.sidebar.network_rooms
    assert [(e.room, e.recent) for e in rooms.model.entries()] == [("lobby", True)]
    assert "recent" in rooms.model.index(0).data() and rooms.view.isVisible()
    assert "type the host's address" in rooms.hint.text()  # discovery is off here
    window.sidebar.grab().save(str(artifacts / "network-rooms-recent-only-en.png"))

    async def scenario():
        window.sidebar.name_edit.setText("frank")
        rooms.view.setFocus()
        rooms.view.setCurrentIndex(rooms.model.index(0))
        QTest.keyClick(rooms.view, Qt.Key.Key_Return)
        await until(lambda: online(window), what="joining the recent server with Enter")
        assert window.connection.room == "lobby"

    run(scenario())
