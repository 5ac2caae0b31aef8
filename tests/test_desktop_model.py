"""MessageModel: Qt model contract, dedupe by id, pending -> delivered, big bursts."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time

import pytest
from PySide6.QtCore import QModelIndex

from desktop.models import DeliveryState, Kind, MessageModel, Role
from server.protocol import ChatRecord, Notice


def record(id_, sender="bob", content="hi", to=None, nonce=None):
    return ChatRecord(id=id_, room="room-1", sender=sender, content=content,
                      timestamp=1764090000000 + id_, to=to, nonce=nonce)


@pytest.fixture
def model(qapp):
    return MessageModel(own_name="alice")


def test_model_passes_qtmodeltester(qtmodeltester, model):
    model.add_records([record(1), record(2, sender="alice")])
    model.add_notice(Notice("carol joined", "join", "carol"), 1764090000100)
    model.add_pending("n1", record(0, sender="alice", content="pending"))
    qtmodeltester.check(model)
    model.deliver("n1", record(3, sender="alice", content="pending", nonce="n1"))
    qtmodeltester.check(model)


def test_roles_describe_sides_states_and_privacy(model):
    model.add_records([record(1, content="x"), record(2, sender="alice", to="bob", content="secret")])
    other, own = model.index(0), model.index(1)
    assert other.data(Role.KIND) == Kind.OTHER.value and own.data(Role.KIND) == Kind.OWN.value
    assert own.data(Role.PRIVATE) is True and own.data(Role.TO) == "bob"
    assert other.data(Role.PRIVATE) is False
    assert own.data(Role.STATE) == DeliveryState.DELIVERED.value
    assert own.data(Role.CONTENT) == "secret" and own.data(Role.SENDER) == "alice"
    assert own.data(Role.ID) == 2 and own.data(Role.TIMESTAMP) == 1764090000002


def test_duplicate_ids_are_shown_once(model):
    assert model.add_records([record(1), record(2)]) == 2
    assert model.add_records([record(2), record(3), record(1)]) == 1
    assert model.ids() == [1, 2, 3]


def test_pending_message_becomes_delivered_in_place(model):
    model.add_records([record(1)])
    model.add_pending("n1", record(0, sender="alice", content="mine"))
    row = model.row_of_nonce("n1")
    assert model.index(row).data(Role.STATE) == "pending" and model.index(row).data(Role.ID) == 0
    changed = []
    model.dataChanged.connect(lambda a, b, roles=(): changed.append(a.row()))
    model.deliver("n1", record(5, sender="alice", content="mine", nonce="n1"))
    assert changed == [row]
    assert model.index(row).data(Role.STATE) == "delivered" and model.index(row).data(Role.ID) == 5
    # The same record arriving again (history after a reconnect) adds nothing.
    model.add_records([record(5, sender="alice", content="mine")])
    assert model.ids() == [1, 5] and model.rowCount() == 2


def test_messages_from_others_go_above_unconfirmed_own_ones(model):
    model.add_pending("n1", record(0, sender="alice", content="mine"))
    model.add_records([record(7, content="theirs")])
    assert [model.item(r).content for r in range(2)] == ["theirs", "mine"]
    model.fail("n1", "server unreachable")
    assert model.index(1).data(Role.STATE) == "failed"
    assert model.index(1).data(Role.ERROR) == "server unreachable"
    model.add_records([record(8, content="later")])
    # A retry re-announces the nonce: the same message moves last, pending again, not doubled.
    model.add_pending("n1", record(0, sender="alice", content="mine"))
    assert [model.item(r).content for r in range(3)] == ["theirs", "later", "mine"]
    assert model.index(2).data(Role.STATE) == "pending"


def test_out_of_order_delivery_moves_row_above_earlier_pending(qtmodeltester, model):
    model.add_pending("a", record(0, sender="alice", content="first"))
    model.add_pending("b", record(0, sender="alice", content="second"))
    model.deliver("b", record(9, sender="alice", content="second", nonce="b"))
    assert [model.item(r).content for r in range(2)] == ["second", "first"]
    assert model.item(1).state is DeliveryState.PENDING
    qtmodeltester.check(model)


def test_delivery_of_unknown_nonce_is_added_as_a_message(model):
    model.deliver("never-seen", record(4, sender="alice", content="from before the restart"))
    assert model.ids() == [4]


def test_join_notice_is_translated_text_not_the_server_wording(model):
    model.add_notice(Notice("bob joined", "join", "bob"), 1)
    model.add_notice(Notice("server says hello", None, None), 2)
    assert model.index(0).data(Role.CONTENT) == "bob joined the room"
    assert model.index(0).data(Role.KIND) == "system"
    assert model.index(1).data(Role.CONTENT) == "server says hello"


def test_burst_of_10k_is_one_insertion_and_fast(model):
    model.kept = 20_000
    inserts = []
    model.rowsInserted.connect(lambda parent, first, last: inserts.append((first, last)))
    started = time.perf_counter()
    model.add_records(record(i, content=f"message {i}") for i in range(1, 10_001))
    elapsed = time.perf_counter() - started
    assert inserts == [(0, 9_999)]
    assert model.rowCount() == 10_000 and model.ids()[-1] == 10_000
    assert elapsed < 1.0
    assert model.rowCount(model.index(0)) == 0 and not model.index(0).parent().isValid()
    assert model.index(10_000).isValid() is False
    assert model.data(QModelIndex()) is None


def test_quick_row_heights_equal_full_layout(qapp):
    """The one-line shortcut for row heights must agree with laying the text out."""
    from desktop.models import MessageItem
    from desktop.widgets.message_view import MessageView

    view = MessageView()
    view.resize(700, 400)
    texts = ["hi", "x" * 300, "two\nlines", "房间里见", "word " * 40, "https://example.com/a", ""]
    for kind in Kind:
        for text in texts:
            item = MessageItem(id=1, sender="bob", content=text, timestamp=0, kind=kind)
            for width in (200, 420, 700):
                full = int(view.bubbles.geometry(item, width).bubble.bottom() + 5 + 0.999)
                assert view.bubbles.row_height(item, width) == full, (kind, text, width)


def test_only_the_newest_rows_are_kept_behind_a_counting_marker(model):
    """No host can fill a guest's memory: older rows go, the first row says how many."""
    model.kept = 100
    model.add_pending("n1", record(0, sender="me", content="mine", nonce="n1"))
    model.add_records(record(i, content=f"m{i}") for i in range(1, 151))
    items = model.items()
    assert len(items) == 101 and items[0].event == "dropped" and items[0].content == "51"
    assert "51 older messages are no longer kept" in items[0].text
    assert model.ids()[0] == 52 and model.ids()[-1] == 150
    assert len(model._by_id) <= 101, "dropped rows must not stay referenced (memory)"
    model.add_records(record(i, content=f"m{i}") for i in range(151, 161))
    assert model.rowCount() == 101 and model.item(0).content == "61"
    assert model.ids()[0] == 62
    model.add_records([record(5, content="an old id again")])  # dropped ids are forgotten
    assert model.item(0).content == "62"
    model.deliver("n1", record(161, sender="me", content="mine"))  # the pending row survived
    assert model.items()[-1].id == 161


def test_a_notice_claiming_to_be_the_marker_is_only_text(model):
    from server.protocol import Notice

    model.kept = 3
    model.add_notice(Notice("not a number", "dropped"), 0)
    model.add_records(record(i) for i in range(1, 5))
    assert model.item(0).content != "not a number" and model.rowCount() == 4
