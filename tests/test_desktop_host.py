"""RoomHost (the embedded server) and the LAN address list, with real sockets."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from conftest import free_port
from test_desktop_client import Member, Recorder

from desktop.failures import Failure
from desktop.host import RoomHost, find_free_port
from server.lan import ipv4_addresses


def test_lan_addresses_are_this_machines_non_loopback_ipv4():
    addresses = ipv4_addresses()
    assert len(addresses) == len(set(addresses))
    for address in addresses:
        ip = ipaddress.IPv4Address(address)
        assert not ip.is_loopback and not ip.is_link_local
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))  # only an address of this machine can be bound


def test_host_serves_peers_and_closes_them_with_1001_on_stop(run, tmp_path):
    async def scenario():
        host = RoomHost()
        started, stopped = Recorder(host.started), Recorder(host.stopped)
        port = free_port()
        assert host.start(port=port, data_dir=tmp_path / "hosted")
        assert started.calls == [(port,)] and host.running and host.port == port
        urls = host.addresses()
        assert urls[-1] == (f"ws://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/")
        assert all(ws.startswith("ws://") and http.startswith("http://") for ws, http in urls)
        with socket.create_connection(("127.0.0.1", port)):
            pass  # listening on every interface, loopback included
        peer = Member()
        await peer.join(urls[-1][0], "peer")
        peer.conn.send("kept in history")
        await peer.messageDelivered.wait()

        began = time.monotonic()
        await asyncio.to_thread(host.stop)
        assert time.monotonic() - began < 5
        await peer.stateChanged.wait(lambda a: a == ("reconnecting", Failure.HOST_CLOSED.value))
        assert stopped.calls == [()] and not host.running and host.addresses() == []
        assert (tmp_path / "hosted").is_dir()
        await peer.conn.close()

        again = RoomHost()
        assert again.start(port=port, data_dir=tmp_path / "hosted")
        late = Member()
        await late.join(f"ws://127.0.0.1:{port}", "late")
        history = await late.historyReceived.wait()
        assert [r.content for r in history[0]] == ["kept in history"]
        await late.conn.close()
        await asyncio.to_thread(again.stop)

    run(scenario())


def test_port_in_use_fails_with_a_free_port_suggestion(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        host = RoomHost()
        failed, started = Recorder(host.failed), Recorder(host.started)
        assert not host.start(port=port, data_dir=tmp_path / "hosted")
        ((reason, suggested),) = failed.calls
        assert reason == f"port {port} is already in use"
        assert suggested > port and started.calls == [] and not host.running
        assert find_free_port(suggested) == suggested
        assert host.start(port=suggested, data_dir=tmp_path / "hosted")
        assert started.calls == [(suggested,)]
        host.stop()


def test_room_key_travels_in_the_addresses(run, tmp_path):
    async def scenario():
        host = RoomHost()
        assert host.start(port=0, data_dir=tmp_path / "hosted", key="s3cret & more")
        ws_url, http_url = host.addresses()[-1]
        assert ws_url.endswith("/?key=s3cret%20%26%20more")
        assert http_url.endswith("/?key=s3cret%20%26%20more")
        keyed, keyless = Member(), Member()
        await keyed.join(ws_url, "keyed")  # the key is taken from the URL
        keyless.conn.join(f"ws://127.0.0.1:{host.port}", "keyless", "lobby")
        await keyless.errorReceived.wait(lambda a: a[0] == "bad_key")
        assert keyless.conn.state.value == "offline"
        await keyed.conn.close()
        await keyless.conn.close()
        await asyncio.to_thread(host.stop)

    run(scenario())


def test_host_runs_under_the_qasync_run_event_loop_policy(qapp, tmp_path):
    """qasync.run() (how the app starts) makes asyncio.new_event_loop() return Qt loops."""
    import qasync

    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(qasync.DefaultQEventLoopPolicy())
    host = RoomHost()
    try:
        assert host.start(port=0, data_dir=tmp_path / "hosted")
        with socket.create_connection(("127.0.0.1", host.port), timeout=5) as http:
            http.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert http.recv(1024).startswith(b"HTTP/1.1 200")
    finally:
        host.stop()
        asyncio.set_event_loop_policy(previous)


def test_unusable_data_dir_fails_without_a_port_suggestion(tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    host = RoomHost()
    failed = Recorder(host.failed)
    assert not host.start(port=0, data_dir=blocker / "hosted")
    ((reason, suggested),) = failed.calls
    assert reason.startswith("could not start the server") and suggested == 0
    assert not host.running


def test_default_data_dir_is_per_user_roomchat_hosted():
    from desktop.host import default_data_dir

    path = default_data_dir()
    assert path.name == "hosted" and path.parent.name == "RoomChat" and path.is_absolute()
