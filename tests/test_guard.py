"""desktop.guard: what a guest accepts from a host, and the server's history pages that fit it."""

from __future__ import annotations

import json

import pytest
from hostile_host import NASTY_NAMES

from desktop import guard
from server import protocol
from server.hub import HISTORY_FRAME_BYTES, HISTORY_FRAME_MAX, history_pages
from server.protocol import ChatRecord, ProtocolError

WRONG = [
    {"type": "chat", "id": "seven", "from": "h", "content": "x"},
    {"type": "chat", "id": 3, "from": {"a": 1}, "content": ["list"], "timestamp": 1e300},
    {"type": "chat", "id": 4, "from": "h", "content": "x", "timestamp": 10**30},
    {"type": "chat", "id": 5, "from": "h", "content": "x", "nonce": {"a": 1}, "to": [1]},
    {"type": "chat", "id": -1, "from": "h", "content": "x" * 10_000},
    {"type": "history", "messages": "abc"},
    {"type": "history", "messages": [1, None]},
    {"type": "members", "members": 5},
    {"type": "welcome", "room": None, "userId": ["x"], "members": {"a": 1}, "lastId": "9"},
    {"type": "system", "content": None, "event": ["join"], "userId": 5},
    {"type": "error", "code": 42, "content": {"x": 1}, "nonce": [1]},
    {"type": "typing", "from": None},
]


@pytest.mark.parametrize("frame", [json.dumps(f) for f in WRONG] + ['{"type":"chat","id":1,"from":"a",'
                                                                  '"content":"b","timestamp":1e999}'])
def test_a_hostile_frame_is_refused_or_made_harmless(frame):
    try:
        message = guard.received(frame)
    except ProtocolError:
        return
    for value in vars(message).values() if hasattr(message, "__dict__") else (
            getattr(message, name) for name in message.__slots__):
        assert value is None or isinstance(value, (str, int, bool, tuple, protocol.ErrorCode)), value
    if isinstance(message, ChatRecord):
        assert 0 <= message.timestamp < 253_402_300_800_000 and 0 <= message.id < 2**63
        assert len(message.content) <= guard.CONTENT_MAX + 1
        assert message.nonce is None or isinstance(message.nonce, str)


def test_names_lose_invisible_and_direction_characters():
    for name in NASTY_NAMES:
        shown = guard.label(name, 32)
        assert not any(ch in shown for ch in "\u202e\u200b\u200d\u2066\u2069\u200f")
    assert guard.label("<b>bold</b>", 32) == "<b>bold</b>"


def test_a_legitimate_record_passes_unchanged():
    record = ChatRecord(7, "room-1", "小明", "你好 https://example.com", 1764090000000, "bob", "n1")
    assert guard.received(protocol.encode(record)) == record


def test_member_lists_and_history_frames_are_cut():
    members = guard.received(json.dumps({"type": "members", "members": [f"m{i}" for i in range(5000)]}))
    assert len(members.members) == guard.MEMBERS_MAX
    history = guard.received(json.dumps({"type": "history", "messages": [
        {"type": "chat", "id": i, "from": "a", "content": "b"} for i in range(1, 1001)]}))
    assert [r.id for r in history.messages] == list(range(801, 1001))


def test_history_pages_fit_the_guests_frame_limit():
    """200 messages of 4000 four-byte characters would be 3.2 MB in one frame: pages stay small."""
    records = [ChatRecord(i, "room-1", "bob", "😀" * 4000 if i % 2 else "\x01" * 4000, i, None, "n")
               for i in range(1, 301)]
    pages = list(history_pages(records))
    assert [r for page in pages for r in page] == records
    for page in pages:
        frame = protocol.encode(protocol.History(page)).encode()
        assert len(page) <= HISTORY_FRAME_MAX and len(frame) <= HISTORY_FRAME_BYTES < guard.MAX_FRAME
    short = [ChatRecord(i, "r", "a", "hi", i) for i in range(450)]
    assert [len(page) for page in history_pages(short)] == [200, 200, 50]
    assert list(history_pages([])) == [()]
