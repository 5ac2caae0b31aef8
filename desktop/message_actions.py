"""Reply, edit, delete and search in the desktop window: what the context menu, the reply/edit
bar, the quote in a bubble and the Ctrl+F panel mean, between the widgets and the connection.

The widgets only render and emit; the connection only speaks the protocol. This object keeps
the state in between (the message being answered or edited, the pending search) so that
window.py only builds it and routes sending through :meth:`MessageActions.send`.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.client import ChatConnection
from desktop.models import MessageItem, MessageModel
from desktop.widgets.action_bar import ActionBar
from desktop.widgets.composer import Composer
from desktop.widgets.message_view import MessageView
from desktop.widgets.search_panel import SearchPanel
from server.protocol import QUOTE_MAX, ChatRecord, Delete, Edit, Notice, Quote, Search, SearchResults, quote_of

__all__ = ["MessageActions"]


class MessageActions(QObject):
    """The window's reply, edit, delete and search behaviour."""

    def __init__(self, window: QWidget, connection: ChatConnection, model: MessageModel,
                 view: MessageView, composer: Composer, bar: ActionBar, search: SearchPanel) -> None:
        super().__init__(window)
        self._window = window
        self._connection = connection
        self._model = model
        self._view = view
        self._composer = composer
        self._bar = bar
        self._search = search
        self._reply: MessageItem | None = None
        self._editing: MessageItem | None = None
        self._search_nonce: str | None = None
        self._requests: set[str] = set()  # nonces of our edits and deletions not answered yet
        self.delete_box: QMessageBox | None = None
        view.replyRequested.connect(self.start_reply)
        view.editRequested.connect(self.start_edit)
        view.deleteRequested.connect(self.confirm_delete)
        view.bubbles.quoteClicked.connect(self.jump_to)
        bar.cancelled.connect(self.cancel)
        self._escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), composer.edit, self.cancel,
                                 context=Qt.ShortcutContext.WidgetShortcut)
        self._escape.setEnabled(False)
        QShortcut(QKeySequence.StandardKey.Find, window, search.open_panel)
        search.searchRequested.connect(self._ask)
        search.resultActivated.connect(self._open_result)
        connection.searchResults.connect(self._results)
        connection.requestRefused.connect(self._refused)

    # Reply and edit ---------------------------------------------------------

    def start_reply(self, item: MessageItem) -> None:
        self.cancel()
        self._reply = item
        if item.to is not None:  # answered in private: a public reply would show its excerpt to all
            own = item.sender == self._model.own_name
            self._composer.set_private(item.to if own else item.sender)
        self._bar.show_reply(item.sender, self._quote(item).excerpt or "")
        self._escape.setEnabled(True)
        self._composer.edit.setFocus()

    def start_edit(self, item: MessageItem) -> None:
        self.cancel()
        self._editing = item
        self._composer.edit.setPlainText(item.content)
        self._composer.edit.moveCursor(self._composer.edit.textCursor().MoveOperation.End)
        self._bar.show_edit()
        self._escape.setEnabled(True)
        self._composer.edit.setFocus()

    def cancel(self) -> None:
        """Leave reply or edit mode (✕, Esc, a room change); an edit's text goes."""
        if self._editing is not None:
            self._composer.edit.clear()
        self._reply = self._editing = None
        self._bar.clear()
        self._escape.setEnabled(False)

    @staticmethod
    def _quote(item: MessageItem) -> Quote:
        return quote_of(ChatRecord(item.id, "", item.sender, item.content, 0))

    def send(self, text: str, to: str | None) -> None:
        """What Enter means now: save the edit, send a reply, or send a message."""
        if self._editing is not None:
            target = self._editing
            self.cancel()
            if text != target.content:
                self._request(Edit(target.id, text))
            return
        reply = None
        if self._reply is not None:
            reply = self._quote(self._reply)
            self.cancel()
        self._connection.send(text, to, reply)

    # Delete -----------------------------------------------------------------

    def confirm_delete(self, item: MessageItem) -> None:
        preview = item.content if len(item.content) <= QUOTE_MAX else item.content[: QUOTE_MAX - 1] + "…"
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Delete message"),
                          self.tr("Delete this message for everyone?\n\n%1").replace("%1", preview),
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self._window)
        box.button(QMessageBox.StandardButton.Yes).setText(self.tr("Delete"))
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.finished.connect(lambda _result: self._delete_answered(box, item))
        self.delete_box = box  # open() does not block: keep it alive while shown
        box.open()

    def _delete_answered(self, box: QMessageBox, item: MessageItem) -> None:
        if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes:
            self._request(Delete(item.id))

    def _request(self, message: Edit | Delete) -> None:
        nonce = self._connection.request(message)
        if nonce is None:
            self._say(self.tr("Not connected: the message was not changed."))
        else:
            self._requests.add(nonce)

    def _refused(self, nonce: str, code: str) -> None:
        if nonce == self._search_nonce:
            self._search.show_failure(code)
        elif nonce in self._requests:
            self._requests.discard(nonce)
            reasons = {
                "too_late": self.tr("it is too old to change"),
                "not_allowed": self.tr("only its sender can change it"),
                "no_such_message": self.tr("it no longer exists"),
            }
            self._say(self.tr("Message not changed: %1").replace("%1", reasons.get(code, code)))

    def _say(self, text: str) -> None:
        self._model.add_notice(Notice(text), 0)

    # Jumping and search -----------------------------------------------------

    def jump_to(self, message_id: int) -> bool:
        """Show message ``message_id`` if it is loaded; say so when it is older than that."""
        row = self._model.row_of_id(message_id)
        if row < 0:
            self._say(self.tr("That message is older than the history loaded here."))
            return False
        self._view.show_message(row)
        return True

    def _ask(self, query: str) -> None:
        self._search_nonce = self._connection.request(Search(query))
        if self._search_nonce is None:
            self._search.show_failure(self.tr("not connected"))

    def _results(self, results: SearchResults) -> None:
        if results.nonce == self._search_nonce:
            self._search.show_results(results)

    def _open_result(self, message_id: int) -> None:
        row = self._model.row_of_id(message_id)
        if row < 0:
            self._search.show_not_loaded()
        else:
            self._view.show_message(row)

    def reset(self) -> None:
        """Another room: nothing of the last one is answered, edited or searched any more."""
        self.cancel()
        self._requests.clear()
        self._search_nonce = None
        self._search.clear()
