"""@mentions: finding "@name" in a message, for highlighting and for notifying the named.

A mention is plain text, ``@`` followed by a member's name (names are compared without
regard to case, as the server does) and then the end of the text or a character that
cannot continue a name. The server does not mark mentions: every client finds them in the
text it shows, so they work in history, after an edit and on v1 pages alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["mention_spans", "mentions", "completion_prefix"]

_CONTINUES_NAME = re.compile(r"[\w\-]|\.\w")  # "@alice." ends a sentence; "@alice.x" is no mention
_TYPING_MENTION = re.compile(r"(?:^|(?<=\s))@([^\s@]*)$")


def mention_spans(text: str, names: Iterable[str]) -> list[tuple[int, int, str]]:
    """(start, end, name) of every "@name" in ``text`` for the given names, longest name first."""
    if "@" not in text:
        return []
    folded = text.casefold()
    spans: list[tuple[int, int, str]] = []
    taken: set[int] = set()
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        needle = "@" + name.casefold()
        start = folded.find(needle)
        while start >= 0:
            end = start + len(needle)
            boundary = (end == len(text) or not _CONTINUES_NAME.match(text, end)) and \
                (start == 0 or not text[start - 1].isalnum())  # "mail@alice" is an address
            if boundary and start not in taken:
                spans.append((start, end, name))
                taken.add(start)
            start = folded.find(needle, start + 1)
    return sorted(spans)


def mentions(text: str, name: str) -> bool:
    """True if ``text`` mentions ``name`` ("@Alice" mentions alice)."""
    return bool(name) and bool(mention_spans(text, (name,)))


def completion_prefix(text_before_cursor: str) -> str | None:
    """What follows an "@" being typed at the cursor ("hi @al" -> "al"), or None."""
    match = _TYPING_MENTION.search(text_before_cursor)
    return None if match is None else match.group(1)
