"""A hostile host: a small websockets server that misbehaves on command, in its own process.

It serves the real browser page (resources/web) like any RoomChat host, accepts the join,
then does one of :data:`BEHAVIOURS` to the guest. Its own process means its work (building a
100,000-message history) never competes with the guest's event loop for Python's lock, so a
guest's stall measured in a test is the guest's own.

    with HostileHost("huge_history") as host:
        window.connection.join(host.url, "guest", "room")

Run as a script: ``python tests/hostile_host.py PORT BEHAVIOUR``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["BEHAVIOURS", "HostileHost", "NASTY_NAMES", "NASTY_CONTENTS", "LINKS"]

HISTORY_SIZE = 100_000
MEMBERS_SIZE = 100_000
DRIP_EVERY = 0.9
"""The drip host's quiet period between frames: just under the tests' heartbeat interval."""

NASTY_NAMES = [
    "<b>bold</b>",
    "\u202emoc.evil",                 # right-to-left override
    "zero\u200bwidth\u200d",
    "\u2066isolate\u2069\u200f",
    "<img src=x onerror=alert(1)>",
]
LINKS = {
    "javascript:alert(document.cookie)": False,
    "file:///etc/passwd": False,
    "data:text/html,<script>alert(1)</script>": False,
    "https://example.com/path?q=1": True,
}
NASTY_CONTENTS = [
    "<script>alert(1)</script><b>not bold</b><a href='javascript:alert(1)'>click</a>",
    "evil\u202egnp.exe",
    "in\u200bvis\u200cible\u200d\ufeff",
    "W" * 10_000,                      # one 10,000-character word
    *(f"link: {url}" for url in LINKS),
]


def _chat(i: int, sender: str, content: str, **extra) -> dict:
    return {"type": "chat", "id": i, "room": "r", "from": sender, "content": content,
            "timestamp": 1_764_000_000_000 + i, **extra}


def _welcome(name: str, room: str, members: list[str] | None = None) -> str:
    members = members if members is not None else ["host", name]
    return json.dumps({"type": "welcome", "room": room, "userId": name, "online": len(members),
                       "members": members, "resume": "r", "lastId": 0})


def _empty_history() -> str:
    return json.dumps({"type": "history", "messages": []})


# Behaviours: what the host does after the guest's join ----------------------------------------


async def polite(ws, name, room):
    """A well-behaved host (the control): welcome, empty history, pongs."""
    await ws.send(_welcome(name, room))
    await ws.send(_empty_history())
    await ws.send(json.dumps(_chat(1, "host", "hello from a polite host")))


async def oversized(ws, name, room):
    """A frame far above any client's limit, then a normal chat (a guest that ignores the big
    frame instead of closing gets it)."""
    from desktop.guard import MAX_FRAME

    await ws.send(_welcome(name, room))
    await ws.send(_empty_history())
    await ws.send(json.dumps(_chat(1, "host", "x" * (MAX_FRAME + 1024 * 1024))))
    await ws.send(json.dumps(_chat(2, "host", "still talking after an oversized frame")))


async def garbage(ws, name, room):
    """Invalid JSON, binary frames, JSON that is not an object, one valid chat, invalid UTF-8."""
    await ws.send(_welcome(name, room))
    await ws.send(_empty_history())
    for frame in ['{"type":"chat",', "not json at all", "[1,2,3]", '"a string"', "null",
                  "[" * 100_000, '{"a":' * 50_000, b"\x00\xff binary", "{}" * 1000]:
        await ws.send(frame)
    await ws.send(json.dumps(_chat(2, "host", "still talking after garbage")))
    await asyncio.sleep(0.5)
    await ws.send(b"\xff\xfe not UTF-8", text=True)  # a conforming guest closes with 1007


async def wrong_types(ws, name, room):
    """Well-formed JSON with every field of the wrong type, then one valid chat."""
    await ws.send(_welcome(name, room))
    await ws.send(_empty_history())
    frames = [
        {"type": "chat", "id": "seven", "from": "h", "content": "x"},
        {"type": "chat", "id": 3, "from": {"a": 1}, "content": ["list"], "timestamp": 1e300},
        {"type": "chat", "id": 4, "from": "h", "content": "x", "timestamp": 10**30},
        {"type": "chat", "id": 5, "from": "h", "content": "x", "nonce": {"a": 1}, "to": [1]},
        {"type": "chat", "id": 2**70, "from": "h", "content": "x"},
        {"type": "history", "messages": "not a list"},
        {"type": "history", "messages": [1, "two", None]},
        {"type": "members", "members": 5},
        {"type": "members", "members": [{"a": 1}, None, 7]},
        {"type": "typing", "from": None, "active": "yes"},
        {"type": "system", "content": None, "event": ["join"], "userId": 5},
        {"type": "error", "code": 42, "content": {"x": 1}, "nonce": [1]},
        {"type": "welcome", "room": None},
        {"type": ["chat"]},
        {"type": None},
    ]
    for frame in frames:
        await ws.send(json.dumps(frame))
    await ws.send('{"type":"chat","id":6,"from":"h","content":"x","timestamp":1e999}')
    await ws.send(json.dumps(_chat(10, "host", "still talking after wrong types")))


async def unknown_types(ws, name, room):
    await ws.send(_welcome(name, room))
    await ws.send(_empty_history())
    for kind in ("file", "eval", "script", "html", "CHAT", "", "__proto__", "constructor"):
        await ws.send(json.dumps({"type": kind, "content": "<script>alert(1)</script>", "html": "<b>x</b>"}))
    await ws.send(json.dumps(_chat(2, "host", "still talking after unknown types")))


def _history_frames() -> list[str]:
    """100,000 messages of 100 characters in frames of 200, as a RoomChat server would page them."""
    content = "history line " + "h" * 87
    frames = []
    for start in range(1, HISTORY_SIZE + 1, 200):
        messages = [_chat(i, f"user{i % 50}", content) for i in range(start, start + 200)]
        frames.append(json.dumps({"type": "history", "messages": messages}))
    return frames


async def huge_history(ws, name, room):
    await ws.send(_welcome(name, room))
    for frame in _history_frames():
        await ws.send(frame)
    await ws.send(json.dumps(_chat(HISTORY_SIZE + 1, "host", "the newest message")))


async def huge_members(ws, name, room):
    names = [f"m{i}" for i in range(MEMBERS_SIZE)]  # 890 KB: inside the guest's frame limit
    await ws.send(_welcome(name, room, names + [name]))
    await ws.send(_empty_history())
    for _ in range(3):
        await ws.send(json.dumps({"type": "members", "members": names}))
    await ws.send(json.dumps(_chat(1, "host", "after 100,000 members")))


async def nasty_text(ws, name, room):
    """Markup, direction overrides, invisible characters, a 10,000-character word, links."""
    await ws.send(_welcome(name, room, NASTY_NAMES + [name]))
    await ws.send(_empty_history())
    i = 0
    for sender in NASTY_NAMES:
        for content in NASTY_CONTENTS:
            i += 1
            await ws.send(json.dumps(_chat(i, sender, content)))
    await ws.send(json.dumps({"type": "system", "content": "<b>system</b>\u202e", "event": "<i>x</i>"}))


async def deaf(ws, name, room):
    """Joins the guest, then never reads or sends anything again (no pongs of any kind)."""
    await ws.send(_welcome(name, room))
    await ws.send(_empty_history())
    ws.transport.pause_reading()
    await asyncio.Future()


async def drip(ws, name, room):
    """A valid frame every DRIP_EVERY seconds and nothing else: never a pong."""
    await ws.send(_welcome(name, room))
    await ws.send(_empty_history())
    while True:
        await asyncio.sleep(DRIP_EVERY)
        await ws.send(json.dumps({"type": "typing", "from": "host", "active": True}))


BEHAVIOURS = {f.__name__: f for f in (polite, oversized, garbage, wrong_types, unknown_types,
                                      huge_history, huge_members, nasty_text, deaf, drip)}
BEHAVIOURS["http_200"] = polite  # never reached: the upgrade (and any unknown path) gets a 200 page
HTTP_200_BODY = 20 * 1024 * 1024


async def _answer_pings(ws) -> None:
    async for frame in ws:
        try:
            message = json.loads(frame)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("type") == "ping":
            await ws.send('{"type":"pong"}')


async def _serve(port: int, behaviour: str) -> None:
    from websockets.asyncio.server import serve
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    from server.webroot import WebRoot

    web = WebRoot()
    act = BEHAVIOURS[behaviour]

    huge_page = b"<html>" + b"x" * HTTP_200_BODY + b"</html>"

    def respond(connection, request):
        if behaviour == "http_200" and (request.headers.get("Upgrade", "").lower() == "websocket"
                                        or web.get(request.path.split("?", 1)[0]) is None):
            return Response(200, "OK", Headers([("Content-Type", "text/html"),
                                                ("Content-Length", str(len(huge_page)))]), huge_page)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        found = web.get(request.path.split("?", 1)[0])
        if found is None:
            return connection.respond(404, "not found\n")
        body, content_type = found
        return Response(200, "OK", Headers([("Content-Type", content_type),
                                            ("Content-Length", str(len(body)))]), body)

    async def handler(ws):
        try:
            async for frame in ws:
                message = json.loads(frame)
                if message.get("type") == "join":
                    break
            else:
                return
            if act in (deaf, drip):
                await act(ws, str(message.get("userId")), str(message.get("room")))
            else:  # pongs all along, also while a huge history is being sent
                pongs = asyncio.create_task(_answer_pings(ws))
                await act(ws, str(message.get("userId")), str(message.get("room")))
                await pongs
        except Exception:  # the guest went away: that is its right
            return

    async with serve(handler, "127.0.0.1", port, process_request=respond, compression=None,
                     ping_interval=None, max_size=None, select_subprotocol=lambda _c, offered: (
                         offered[0] if offered else None)):
        print("ready", flush=True)
        await asyncio.Future()


class HostileHost:
    """The hostile host as a context manager: a process serving one behaviour on a free port."""

    def __init__(self, behaviour: str) -> None:
        assert behaviour in BEHAVIOURS, behaviour
        self.behaviour = behaviour
        from conftest import free_port

        self.port = free_port()
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def page(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> HostileHost:
        self._process = subprocess.Popen(
            [sys.executable, __file__, str(self.port), self.behaviour],
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent,
        )
        deadline = time.monotonic() + 15
        line = self._process.stdout.readline()
        assert line == "ready\n" and time.monotonic() < deadline, "the hostile host did not start"
        return self

    def __exit__(self, *exc_info) -> None:
        assert self._process is not None
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent.parent))
    asyncio.run(_serve(int(sys.argv[1]), sys.argv[2]))
