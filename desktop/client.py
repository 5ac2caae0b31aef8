"""The desktop app's connection to a RoomChat server.

:class:`ChatConnection` owns the websocket, runs on the qasync loop and talks to
the window only through Qt signals, so widgets never touch the network. It
speaks v2 (offering the ``roomchat.v2`` subprotocol) and falls back to the seed's
v1 when the server answers the join with a ``system`` notice. It reconnects on
its own with exponential backoff, resumes with ``since`` so nothing is lost or
shown twice, queues what is typed while offline, and detects dead connections
with an application heartbeat. Own messages wait in :class:`desktop.outbox.Outbox` until
the server's record settles them (exactly once on v2; on v1, which has no acknowledgements,
a message counts as delivered once written); files go through :class:`desktop.transfers.Uploads`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import random
import secrets
import ssl
import time
from collections.abc import Coroutine

from PySide6.QtCore import QObject, Signal
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from desktop import guard
from desktop.addresses import normalize_url
from desktop.failures import Failure, classify, close_failure
from desktop.outbox import Outbox
from desktop.session_end import SessionLost, SessionStop, failure_detail
from desktop.settings import ResumeSecrets
from desktop.transfers import HttpTarget, Uploads
from desktop.server_certificates import (
    CHANGED_CERTIFICATE,
    MISMATCHED_CERTIFICATE,
    UNTRUSTED_CERTIFICATE,
    ServerCertificates,
)
from desktop.trust import CertificateTrust, link_fingerprint
from server.protocol import (
    SUBPROTOCOL,
    ChatRecord,
    Delete,
    DeleteRecord,
    Edit,
    EditRecord,
    Error,
    FileAccept,
    FileAck,
    History,
    Join,
    Leave,
    Members,
    Notice,
    Ping,
    Pong,
    ProtocolError,
    Quote,
    Search,
    SearchResults,
    Typing,
    TypingNotice,
    Welcome,
    encode,
    name_key,
)

__all__ = [
    "BAD_ADDRESS",
    "CHANGED_CERTIFICATE",
    "MISMATCHED_CERTIFICATE",
    "REPLACED_CLOSE_CODE",
    "UNTRUSTED_CERTIFICATE",
    "ChatConnection",
    "ConnectionState",
    "ResumeSecrets",
]

BAD_ADDRESS = "bad_address"
"""Error code (besides server.protocol.ErrorCode values) for an address that is not a URL."""

REPLACED_CLOSE_CODE = 4000
"""The server closes a connection with this code when the same member resumed elsewhere."""

HISTORY_TRUNCATED = "You were away a long time: only the newest 1,000 messages are shown."
"""The notice for a resume whose history the server capped (``truncated``)."""

TYPING_REPEAT = 2.0
"""Seconds between repeated ``typing: true`` frames while someone keeps typing."""


class ConnectionState(enum.Enum):
    OFFLINE = "offline"
    CONNECTING = "connecting"
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    GAVE_UP = "gave_up"


class ChatConnection(QObject):
    """One member's connection to one room, reconnecting until told to leave.

    Signals:
        stateChanged(state value, English reason)
        joined(Welcome): every successful (re)join; v1 gets a locally built Welcome
        protocolChanged(1 | 2): once per successful join
        messageReceived(Record): a live message, edit or deletion (v1 records have id 0)
        historyReceived(tuple[Record, ...]): after each v2 join, only unseen records
        searchResults(SearchResults): the answer to a search()
        requestRefused(nonce, error code): the server refused an edit, delete or search
        pendingAdded(nonce, ChatRecord): an own message to show at once (again on retry)
        messageDelivered(nonce, ChatRecord): the server stored it (record carries the id)
        messageFailed(nonce, English reason): the server refused it, or we left the room
        messageRefused(nonce, error code): emitted right before messageFailed
        noticeReceived(Notice), membersChanged(tuple[str, ...]), typingChanged(name, active)
        errorReceived(error code, English text): join refusals and errors not tied to a message
        connectionFailed(Failure name, detail): each failed try or drop, the first one included,
            before the state changes to RECONNECTING (desktop.failures.Failure)
        reconnectScheduled(attempt, delay seconds)

    ``uploads`` (desktop.transfers.Uploads) sends files on this connection and has its own signals.
    """

    stateChanged = Signal(str, str)
    joined = Signal(object)
    protocolChanged = Signal(int)
    messageReceived = Signal(object)
    historyReceived = Signal(object)
    pendingAdded = Signal(str, object)
    messageDelivered = Signal(str, object)
    messageFailed = Signal(str, str)
    messageRefused = Signal(str, str)
    noticeReceived = Signal(object)
    membersChanged = Signal(object)
    typingChanged = Signal(str, bool)
    errorReceived = Signal(str, str)
    connectionFailed = Signal(str, str)
    reconnectScheduled = Signal(int, float)
    searchResults = Signal(object)
    requestRefused = Signal(str, str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        # Reconnects
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        max_attempts: int = 10,
        jitter: float = 0.2,
        gave_up_retry: float = 30.0,
        # Timeouts
        heartbeat_interval: float = 30.0,
        pong_timeout: float = 10.0,
        ws_ping_interval: float | None = 20.0,
        open_timeout: float = 10.0,
        # wss:// servers with a self-signed certificate
        trust: CertificateTrust | None = None,
        # Where the server's resume secrets outlive the app (None: for this run only)
        resume_secrets: ResumeSecrets | None = None,
    ) -> None:
        super().__init__(parent)
        self._certificates = ServerCertificates(trust if trust is not None else CertificateTrust())
        self._resume_secrets = resume_secrets
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._max_attempts = max_attempts
        self._jitter = jitter
        self._gave_up_retry = gave_up_retry
        self._heartbeat_interval = heartbeat_interval
        self._pong_timeout = pong_timeout
        self._ws_ping_interval = ws_ping_interval
        self._open_timeout = open_timeout

        self._state = ConnectionState.OFFLINE
        self._reason = "not connected"
        self._url = ""
        self._name = ""
        self._room = ""
        self._key: str | None = None
        self._protocol = 0

        self._last_id = 0
        self._resume = ""
        self._connection_no = 0
        self._outbox = Outbox()

        self._ws: ClientConnection | None = None
        self._dead_reason: str | None = None
        self._pong = asyncio.Event()
        self._wake = asyncio.Event()
        self._run_task: asyncio.Task | None = None
        self._teardown: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._typing_sent = False
        self._typing_at = 0.0
        self.uploads = Uploads(self)

    # Properties ---------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def reason(self) -> str:
        """English reason that came with the last state change."""
        return self._reason

    @property
    def key(self) -> str | None:
        """The room key sent with the join, if any."""
        return self._key

    @property
    def expected_fingerprint(self) -> str | None:
        """The certificate fingerprint the joined link named (``#fp=``), if any."""
        return self._certificates.expected

    @property
    def protocol_version(self) -> int:
        """1 or 2 once joined, 0 before the first join."""
        return self._protocol

    @property
    def name(self) -> str:
        return self._name

    @property
    def room(self) -> str:
        return self._room

    @property
    def url(self) -> str:
        return self._url

    @property
    def last_id(self) -> int:
        """Newest message id seen in this room (what a reconnect resumes from)."""
        return self._last_id

    @property
    def socket(self) -> ClientConnection | None:
        """The open websocket while joined (uploads write their chunks to it)."""
        return self._ws if self._state is ConnectionState.ONLINE else None

    def http_target(self) -> HttpTarget:
        """Where this server's downloads come from (same host, port and certificate)."""
        return HttpTarget.of(self._url, self._certificates.context(self._url))

    @property
    def pending(self) -> tuple[str, ...]:
        """Nonces of own messages not acknowledged yet, in sending order."""
        return self._outbox.nonces

    # Commands from the window --------------------------------------------

    def join(self, url: str, name: str, room: str, key: str | None = None) -> None:
        """Connect and join; a key in the URL's ``?key=`` is used when ``key`` is None, and a
        certificate fingerprint in its ``#fp=`` is pinned (desktop.server_certificates)."""
        previous = self._detach(say_leave=False)
        try:
            expected = link_fingerprint(url)
            url, url_key = normalize_url(url)
            if expected is not None and not url.startswith("wss:"):
                raise ValueError("a certificate fingerprint needs a wss:// or https:// address")
        except ValueError as exc:
            self.errorReceived.emit(BAD_ADDRESS, str(exc))
            self._set_state(ConnectionState.OFFLINE, "invalid address")
            return
        identity = (url, name_key(name.strip()), room.strip())
        same = identity == (self._url, name_key(self._name), self._room)
        if not same and self._room:
            self._fail_all("not sent: you joined another room")
        # The stored secret wins: another window of ours that took the name over meanwhile
        # was given a newer one, and only the newest proves this is the private history's owner.
        stored = self._resume_secrets.resume_secret(*identity) if self._resume_secrets else ""
        self._resume = stored or (self._resume if same else "")
        self._last_id = 0  # an explicit join gets the recent history again; reconnects resume
        self._url, self._name, self._room = url, name.strip(), room.strip()
        self._key = key if key is not None else url_key
        self._certificates.expected = expected
        self._protocol = 0
        self._run_task = self.spawn(self._run(previous))

    def trust_certificate(self) -> None:
        """Accept the certificate last refused (UNTRUSTED/CHANGED_CERTIFICATE) and join again."""
        if self._certificates.accept_offered():
            self.join(self._url, self._name, self._room, self._key)

    def leave(self) -> None:
        """Leave the room and disconnect; no reconnect."""
        self._teardown = self._detach(say_leave=True)
        self._fail_all("not sent: you left the room")
        self._set_state(ConnectionState.OFFLINE, "left the room")

    def send(self, content: str, to: str | None = None, reply: Quote | None = None) -> str:
        """Show an own message at once and send it now or after the next (re)join."""
        nonce = secrets.token_urlsafe(9)
        record = ChatRecord(
            id=0, room=self._room, sender=self._name, content=content,
            timestamp=int(time.time() * 1000), to=to, nonce=nonce, reply=reply,
        )
        self._outbox.add(record)
        self.pendingAdded.emit(nonce, record)
        self._schedule_flush()
        return nonce

    def request(self, message: Edit | Delete | Search) -> str | None:
        """Send an edit, deletion or search now (v2, online); its nonce, or None if it cannot go.

        Unlike chats these are not queued: an edit typed offline would be resent blindly later.
        """
        if self._state is not ConnectionState.ONLINE or self._protocol != 2:
            return None
        message = dataclasses.replace(message, nonce=secrets.token_urlsafe(9))
        self.spawn(self._send_quietly(encode(message)))
        return message.nonce

    def retry(self, nonce: str) -> None:
        """Send a failed message again, as the newest."""
        record = self._outbox.retry(nonce)
        if record is None:
            return
        self.pendingAdded.emit(nonce, record)
        self._schedule_flush()

    def retry_now(self) -> None:
        """Reconnect at once (after GAVE_UP, while waiting, or after a refusal), attempts reset."""
        if self._run_task is not None and not self._run_task.done():
            self._wake.set()
        elif self._url and self._name and self._room:
            self._run_task = self.spawn(self._run(self._detach(say_leave=False)))

    def set_typing(self, active: bool) -> None:
        """Tell the room we type; repeated ``True`` is sent at most every 2 s."""
        if self._state is not ConnectionState.ONLINE or self._protocol != 2:
            return
        now = time.monotonic()
        if active and self._typing_sent and now - self._typing_at < TYPING_REPEAT:
            return
        if not active and not self._typing_sent:
            return
        self._typing_sent, self._typing_at = active, now
        self.spawn(self._send_quietly(encode(Typing(active))))

    async def close(self) -> None:
        """Leave and wait until the connection and every task are finished (app quit)."""
        teardown = self._detach(say_leave=True)
        if teardown is not None:
            await teardown
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._set_state(ConnectionState.OFFLINE, "closed")

    # Task plumbing --------------------------------------------------------

    def spawn(self, coro: Coroutine) -> asyncio.Task:
        """Start a task and keep a strong reference until it ends (qasync does not)."""
        task = asyncio.get_event_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _detach(self, say_leave: bool) -> asyncio.Task | None:
        """Stop the current connection; return a task that ends when it is closed."""
        task, self._run_task = self._run_task, None
        if task is None:
            return self._teardown
        ws = self._ws if say_leave and self._state is ConnectionState.ONLINE else None
        self._teardown = self.spawn(self._shut_down(task, ws))
        return self._teardown

    async def _shut_down(self, task: asyncio.Task, ws: ClientConnection | None) -> None:
        if ws is not None:
            try:
                await asyncio.wait_for(ws.send(encode(Leave())), 1.0)
            except (ConnectionClosed, TimeoutError):
                pass
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def _set_state(self, state: ConnectionState, reason: str) -> None:
        if (state, reason) == (self._state, self._reason):
            return
        self._state, self._reason = state, reason
        self.stateChanged.emit(state.value, reason)

    # The run loop ----------------------------------------------------------

    def _delay(self, attempt: int) -> float:
        """Backoff before reconnect ``attempt`` (1-based): base doubling, +-jitter, never over the cap."""
        delay = self._base_delay * 2 ** (attempt - 1) * random.uniform(1 - self._jitter, 1 + self._jitter)
        return min(self._max_delay, delay)

    async def _run(self, previous: asyncio.Task | None) -> None:
        """Connect, serve, and reconnect with backoff until stopped, refused or cancelled."""
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        self._wake.clear()
        self._set_state(ConnectionState.CONNECTING, f"connecting to {self._url}")
        failed_retries = 0
        is_retry = False
        cause: Failure | None = None
        while True:
            try:
                await self._session()
            except SessionStop as stop:
                if stop.code is not None:
                    self.errorReceived.emit(stop.code, stop.text)
                self._set_state(ConnectionState.OFFLINE, stop.reason)
                return
            except SessionLost as lost:
                if not (cause is Failure.HOST_CLOSED and lost.failure is Failure.REFUSED):
                    cause, reason = lost.failure, lost.reason  # a closed host refuses: say why
                    self.connectionFailed.emit(lost.failure.name, lost.detail)
                failed_retries = failed_retries + 1 if is_retry and not lost.was_online else 0
            if failed_retries >= self._max_attempts:
                self._set_state(
                    ConnectionState.GAVE_UP,
                    f"could not reconnect after {self._max_attempts} tries ({reason})",
                )
                try:  # GAVE_UP stays shown; a quiet try now and then still catches the server
                    await asyncio.wait_for(self._wake.wait(), self._gave_up_retry)
                    self._set_state(ConnectionState.RECONNECTING, "reconnecting now")
                except TimeoutError:
                    pass
            else:
                attempt = failed_retries + 1
                delay = self._delay(attempt)
                self._set_state(ConnectionState.RECONNECTING, reason)
                self.reconnectScheduled.emit(attempt, delay)
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except TimeoutError:
                    pass
            if self._wake.is_set():
                self._wake.clear()
                failed_retries = 0
            is_retry = True

    async def _session(self) -> None:
        """One connection: connect, join, then read until it drops. Always raises."""
        await self._certificates.pin_expected(self._url, self._open_timeout)
        try:
            ws = await connect(
                self._url,
                subprotocols=[SUBPROTOCOL],
                compression=None,
                max_size=guard.MAX_FRAME,
                max_queue=guard.MAX_QUEUE,
                proxy=None,
                open_timeout=self._open_timeout,
                ping_interval=self._ws_ping_interval,
                ping_timeout=self._ws_ping_interval,
                close_timeout=2.0,
                ssl=self._certificates.context(self._url),
            )
        except InvalidURI as exc:
            raise SessionStop("invalid address", BAD_ADDRESS, str(exc)) from None
        except ssl.SSLCertVerificationError:
            raise await self._certificates.refused(self._url, self._open_timeout) from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise SessionLost(classify(exc, tls=self._url.startswith("wss:")), failure_detail(exc)) from None
        self._ws = ws
        self._dead_reason = None
        online = False
        heartbeat: asyncio.Task | None = None
        try:
            first = await self._join(ws)
            online = True
            heartbeat = self.spawn(self._heartbeat(ws))
            if first is not None:
                self._handle(first)
            while True:
                self._handle_text(await ws.recv())
                await asyncio.sleep(0)  # one frame a loop turn: a flood never holds the window up
        except ConnectionClosed:
            if ws.close_code == REPLACED_CLOSE_CODE:
                raise SessionStop("replaced by a new connection") from None
            if self._dead_reason is not None:
                raise SessionLost(Failure.NO_ANSWER, self._dead_reason, was_online=online) from None
            raise SessionLost(close_failure(ws.close_code, ws.close_reason), was_online=online) from None
        finally:
            self._ws = None
            if heartbeat is not None:
                heartbeat.cancel()
            if online:
                self._typing_sent = False
            await ws.close()

    async def _next_message(self, ws: ClientConnection, what: str):
        """The next well-formed frame, or SessionLost if none comes within the pong timeout."""
        while True:
            try:
                text = await asyncio.wait_for(ws.recv(), self._pong_timeout)
            except TimeoutError:
                raise SessionLost(Failure.NO_ANSWER, f"no answer to {what}") from None
            try:
                return guard.received(text)
            except ProtocolError:
                continue

    async def _join(self, ws: ClientConnection):
        """Send the join and take the answer; return a frame to handle next, if read ahead."""
        await ws.send(encode(Join(
            self._name, self._room,
            since=self._last_id or None, resume=self._resume or None, key=self._key,
        )))
        answer = await self._next_message(ws, "join")
        if isinstance(answer, Error):
            raise SessionStop(answer.content or answer.code.value, answer.code.value, answer.content)
        if isinstance(answer, Notice):
            self._joined_v1(answer)
            await self._flush(ws)
            self.uploads.resume()
            return None
        if not isinstance(answer, Welcome):
            raise SessionLost(Failure.NOT_ROOMCHAT, "unexpected answer to join")
        self._resume = answer.resume
        self._name = answer.user_id
        if self._resume_secrets is not None and answer.resume:
            self._resume_secrets.remember_resume_secret(self._url, name_key(self._name), self._room, answer.resume)
        self._connection_no += 1
        self._protocol = 2
        self._set_state(ConnectionState.ONLINE, f"joined {answer.room}")
        self.joined.emit(answer)
        self.protocolChanged.emit(2)
        self.membersChanged.emit(answer.members)
        following = await self._next_message(ws, "join")
        if isinstance(following, History):
            self._take_history(following)
            following = None
        await self._flush(ws)
        self.uploads.resume()
        return following

    def _joined_v1(self, welcome_notice: Notice) -> None:
        """The server is the seed's (v1): no ids, acks or history; own messages shown locally."""
        self._connection_no += 1
        self._protocol = 1
        self._set_state(ConnectionState.ONLINE, f"joined {self._room}")
        self.joined.emit(Welcome(self._room, self._name, (), "", 0))
        self.protocolChanged.emit(1)
        self.noticeReceived.emit(welcome_notice)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        """Ping every interval; no pong in time means the connection is dead: abort it."""
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            self._pong.clear()
            try:
                await ws.send(encode(Ping()))
                await asyncio.wait_for(self._pong.wait(), self._pong_timeout)
            except ConnectionClosed:
                return
            except TimeoutError:
                self._dead_reason = "no answer to ping"
                if ws.transport is not None:
                    ws.transport.abort()
                return

    # Sending ---------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if self._state is ConnectionState.ONLINE and self._ws is not None:
            self.spawn(self._flush(self._ws))

    async def _flush(self, ws: ClientConnection) -> None:
        """Write every queued message not yet written to this connection, in order."""
        await self._outbox.flush(ws, self._connection_no, lambda: ws is self._ws, self._written)

    def _written(self, nonce: str, record: ChatRecord) -> None:
        if self._protocol == 1 and self._outbox.settle(nonce):  # v1 acknowledges nothing
            self.messageDelivered.emit(nonce, dataclasses.replace(record, timestamp=int(time.time() * 1000)))

    async def _send_quietly(self, text: str) -> None:
        ws = self._ws
        if ws is not None:
            try:
                await ws.send(text)
            except ConnectionClosed:
                pass

    def _fail_all(self, reason: str) -> None:
        self.uploads.fail_all()
        for nonce in self._outbox.nonces:
            self._fail(nonce, reason, None)

    def _fail(self, nonce: str, reason: str, code: str | None) -> None:
        self._outbox.fail(nonce)
        if code is not None:
            self.messageRefused.emit(nonce, code)
        self.messageFailed.emit(nonce, reason)

    # Receiving -------------------------------------------------------------

    def _handle_text(self, text: str | bytes) -> None:
        try:
            message = guard.received(text)
        except ProtocolError:
            return
        self._handle(message)

    def _handle(self, message) -> None:
        if isinstance(message, (ChatRecord, EditRecord, DeleteRecord)):
            self._take_record(message)
        elif isinstance(message, SearchResults):
            self.searchResults.emit(message)
        elif isinstance(message, Pong):
            self._pong.set()
        elif isinstance(message, Notice):
            if message.event == "history_reset":  # the server's ids start again: wait for none
                self._last_id = 0
            self.noticeReceived.emit(message)
        elif isinstance(message, Members):
            self.membersChanged.emit(message.members)
        elif isinstance(message, TypingNotice):
            self.typingChanged.emit(message.sender, message.active)
        elif isinstance(message, (FileAccept, FileAck)) or isinstance(message, Error) and self.uploads.owns(message.nonce):
            self.uploads.received(message)
        elif isinstance(message, Error):
            if message.nonce is not None and message.nonce in self._outbox:
                self._fail(message.nonce, message.content or message.code.value, message.code.value)
            elif message.nonce is not None:
                self.requestRefused.emit(message.nonce, message.code.value)
            else:
                self.errorReceived.emit(message.code.value, message.content)
        elif isinstance(message, History):
            self._take_history(message)

    def _take_record(self, record: ChatRecord | EditRecord | DeleteRecord) -> None:
        """A live message: skip what was seen (by id), settle own acks, show the rest."""
        if record.id:
            if record.id <= self._last_id:
                return
            self._last_id = record.id
        if record.nonce is not None and self._outbox.settle(record.nonce):
            self.messageDelivered.emit(record.nonce, record)
            return
        self.messageReceived.emit(record)

    def _take_history(self, history: History) -> None:
        """History after a join: unseen records are shown, own ones in the outbox settled."""
        if history.truncated:
            self.noticeReceived.emit(Notice(HISTORY_TRUNCATED, event="truncated"))
        shown: list[ChatRecord] = []
        delivered: list[ChatRecord] = []
        for record in history.messages:
            if record.id <= self._last_id:
                continue
            self._last_id = record.id
            if record.nonce is not None and self._outbox.settle(record.nonce):
                delivered.append(record)
            else:
                shown.append(record)
        self.historyReceived.emit(tuple(shown))
        for record in delivered:
            self.messageDelivered.emit(record.nonce, record)
