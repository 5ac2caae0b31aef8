/* RoomChat browser page, the module index.html loads: join form, outbox of unconfirmed
   messages, members, private messages, typing; it wires the page's other modules (the log,
   replies/edits/deletions, search, files, mentions, emoji, attention). Every piece of user
   data is put in the page as text. */
import { Attention } from "./attention.js";
import { chatBubble, formatTime, node, setBubbleStatus } from "./bubbles.js";
import { ChatConnection } from "./connection.js";
import { setupEmojiPicker } from "./emoji.js";
import { FileTransfers } from "./files.js";
import { FrameQueue } from "./frame_queue.js";
import { MAX_HISTORY_FRAME, MAX_LOG, MAX_MEMBERS, guardRecord, label } from "./guard.js";
import { appendLinkified } from "./linkify.js";
import { LogView } from "./log_view.js";
import { CONTENT_MAX, FINAL_REFUSALS, characterCount, renderCounter } from "./limits.js";
import { MemberList } from "./member_list.js";
import { highlightMentions, mentionsName, setupMentionCompletion } from "./mentions.js";
import { MessageActions } from "./message_actions.js";
import { SearchPanel } from "./search_panel.js";
import { LANG, errorText, t } from "./strings.js";
import { TypingIndicator } from "./typing.js";

const TYPING_RESEND_MS = 2000;
const TYPING_IDLE_MS = 3000;
/** Messages of a history frame drawn per slice of frames (frame_queue.js). */
const HISTORY_SLICE = 50;
const STORAGE_NAME = "roomchat.name";
const STORAGE_ROOM = "roomchat.room";
const STORAGE_RESUME = "roomchat.resume:"; // + room + newline + lower-case name

/* The server shows private history only to whoever holds the name's last resume secret:
   keeping it lets a reloaded page (or a reopened browser) still see its own. */
function resumeKey(name, room) {
  return STORAGE_RESUME + room + "\n" + name.toLowerCase();
}

const $ = (id) => document.getElementById(id);
const el = {
  status: $("status"), joinForm: $("joinForm"), userId: $("userId"), room: $("room"),
  joinBtn: $("joinBtn"), leaveBtn: $("leaveBtn"), retryBtn: $("retryBtn"),
  formError: $("formError"), identity: $("identity"), memberPanel: $("memberPanel"),
  memberTitle: $("memberTitle"), memberList: $("memberList"), scroller: $("scroller"),
  log: $("log"), outbox: $("outbox"),
  newMessages: $("newMessages"), privateBar: $("privateBar"),
  privateLabel: $("privateLabel"), cancelPrivate: $("cancelPrivate"), composer: $("composer"),
  msgInput: $("msgInput"), sendBtn: $("sendBtn"), charCounter: $("charCounter"),
  emojiBtn: $("emojiBtn"), emojiPanel: $("emojiPanel"), mentionList: $("mentionList"),
};
const attention = new Attention($("log"));

const state = {
  name: "",
  room: "",
  key: new URLSearchParams(location.search).get("key"),
  wantRoom: false,      // the user asked to be in the room and has not left
  joined: false,        // the server accepted the join on the current socket
  welcomedBefore: false,
  resume: null,
  lastId: null,         // newest message id seen in this room: `since` on rejoin
  welcomeLastId: null,
  editWindow: null,     // seconds a sender may change a message (the welcome's editWindow)
  seenIds: new Set(),
  history: null,        // {frame, records, next, render}: the history frame being drawn
  members: [],
  privateTo: null,
  outbox: [],           // {nonce, content, to, status: queued|sent|failed, node}
  nonceCounter: 0,
  typingSentAt: 0,
  typingIdleTimer: null,
};

const typers = new TypingIndicator($("typing"));
let files = null; // FileTransfers, made with the other page parts below
const logView = new LogView(el);
const inbox = new FrameQueue({ handle: handleFrame, startSlice: () => logView.startSlice(),
  endSlice: () => logView.endSlice() });
const memberList = new MemberList(el.memberList, {
  isOwn: (name) => sameName(name, state.name),
  isActive: (name) => sameName(name, state.privateTo),
  onPick: (name) => setPrivate(name),
});
const connection = new ChatConnection({
  onOpen: () => {
    setStatus("connecting", t("statusConnecting"));
    if (state.wantRoom) sendJoin();
  },
  onFrame: (frame) => inbox.push(frame),
  onDown: ({ attempt, delayMs, gaveUp, notRoomChat }) => {
    inbox.clear();
    state.joined = false;
    document.body.classList.add("offline");
    el.joinBtn.hidden = true;
    el.leaveBtn.hidden = false;
    typers.clear();
    updateComposer();
    el.retryBtn.hidden = !gaveUp;
    const wait = { seconds: Math.max(1, Math.round(delayMs / 1000)), attempt };
    setStatus("offline", notRoomChat ? t("statusNotRoomChat", wait)
      : gaveUp ? t("statusGaveUp") : t("statusReconnecting", wait));
  },
  onReplaced: () => {
    inbox.clear();
    state.wantRoom = false;
    state.joined = false;
    showJoinForm();
    setStatus("offline", t("replaced"));
  },
});

/* ---------- small helpers ---------- */

function sameName(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

function setStatus(kind, text) {
  el.status.className = kind;
  el.status.textContent = text;
}

function hasControlChars(text) {
  return /[\u0000-\u001f\u007f-\u009f]/.test(text);
}

/* ---------- static text ---------- */

function applyStaticStrings() {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const item of document.querySelectorAll("[data-i18n]")) item.textContent = t(item.dataset.i18n);
  for (const item of document.querySelectorAll("[data-i18n-placeholder]")) {
    item.placeholder = t(item.dataset.i18nPlaceholder);
  }
  el.msgInput.title = t("composerHint");
  renderCounter(el.charCounter, el.msgInput.value);
  setStatus("idle", t("statusIdle"));
  updateComposer();
}

/* ---------- rendering messages ---------- */

function notice(text, kind) {
  const item = node("div", "msg system" + (kind ? " " + kind : ""), text);
  logView.append(item, { countUnread: false });
}

/** A chat from the server (live or history): dedupe by id, confirm our pending copy. */
function receiveChat(raw, { countUnread, history = false, render = true }) {
  if (!raw || typeof raw.id !== "number" || typeof raw.content !== "string") return;
  const message = guardRecord(raw);
  if (state.seenIds.has(message.id)) return;
  state.seenIds.add(message.id);
  state.lastId = state.lastId === null ? message.id : Math.max(state.lastId, message.id);
  typers.stop(message.from);
  const own = sameName(message.from, state.name);
  const pending = own ? matchOutbox(message) : null;
  if (pending) {
    confirm(pending, message);
    return;
  }
  if (!render) return;
  const bubble = chatBubble({ from: String(message.from), content: message.content,
    to: message.to, timestamp: message.timestamp, own });
  bubble.dataset.id = String(message.id);
  if (message.file && typeof message.file === "object") {
    bubble.querySelector(".text").replaceChildren(files.render(message.file));
    if (own) files.recorded(message);
  }
  actions.decorate(bubble, message, { own });
  logView.append(bubble, { countUnread: countUnread && !own });
  if (own) return;
  const mentioned = mentionsName(message.content, state.name);
  if (mentioned) {
    bubble.classList.add("mention");
    highlightMentions(bubble.querySelector(".text"), state.name);
  }
  if (!history || state.catchingUp) {
    attention.arrived(bubble, { from: String(message.from), content: message.content, mentioned,
      catchUp: history });
  }
}

/** An edit or delete (its own id, so a resume gets it once): applied to its message in place. */
function receiveEvent(message) {
  if (typeof message.id !== "number" || state.seenIds.has(message.id)) return;
  state.seenIds.add(message.id);
  state.lastId = state.lastId === null ? message.id : Math.max(state.lastId, message.id);
  actions.apply(message);
}

/** Our unconfirmed message this chat acknowledges: by nonce, or (after a reconnect that lost
    the acknowledgement) by content among those already sent. */
function matchOutbox(message) {
  if (message.nonce) {
    const byNonce = state.outbox.find((item) => item.nonce === message.nonce);
    if (byNonce) return byNonce;
  }
  return state.outbox.find((item) => item.status === "sent" && item.content === message.content
    && (item.to || null) === (message.to || null)) || null;
}

function confirm(item, message) {
  state.outbox.splice(state.outbox.indexOf(item), 1);
  const bubble = item.node;
  bubble.dataset.id = String(message.id);
  delete bubble.dataset.nonce;
  bubble.querySelector(".time").textContent = formatTime(message.timestamp);
  bubble.querySelector(".msg-error")?.remove();
  setBubbleStatus(bubble, "delivered");
  actions.decorate(bubble, message, { own: true });
  logView.append(bubble, { countUnread: false });
}

/* ---------- sending ---------- */

function newNonce() {
  state.nonceCounter += 1;
  return Date.now().toString(36) + "-" + state.nonceCounter;
}

function transmit(item) {
  item.nonce = newNonce();
  item.node.dataset.nonce = item.nonce;
  const message = { type: "chat", content: item.content, nonce: item.nonce };
  if (item.to) message.to = item.to;
  if (item.reply) message.replyTo = item.reply.id;
  const sent = state.joined && connection.send(message);
  item.node.querySelector(".msg-error")?.remove();
  setBubbleStatus(item.node, sent ? "sent" : "queued");
  item.status = sent ? "sent" : "queued";
}

function sendMessage() {
  const content = el.msgInput.value;
  if (!content.trim() || !state.wantRoom || renderCounter(el.charCounter, content)) return;
  if (!actions.submitEdit(content)) {
    const item = { content, to: state.privateTo, reply: actions.takeReply(), status: "queued", nonce: null };
    item.node = chatBubble({ from: state.name, content, to: item.to, own: true });
    actions.decorate(item.node, { replyTo: item.reply }, { own: true });
    state.outbox.push(item);
    el.outbox.append(item.node);
    transmit(item);
  }
  el.msgInput.value = "";
  renderCounter(el.charCounter, "");
  autosize();
  stopTyping();
  logView.scrollToBottom();
  el.msgInput.focus();
}

/** Send what waited for the connection, and what a dropped connection never confirmed. */
function flushOutbox() {
  for (const item of state.outbox) {
    if (item.status !== "failed") transmit(item);
  }
}

function markFailed(item, code) {
  item.status = "failed";
  setBubbleStatus(item.node, "failed");
  item.node.querySelector(".msg-error")?.remove();
  const box = node("div", "msg-error");
  box.append(node("span", "", t("failedPrefix") + errorText(code)));
  if (!FINAL_REFUSALS.has(code)) {
    const retry = node("button", "retry", t("retry"));
    retry.type = "button";
    retry.addEventListener("click", () => transmit(item));
    box.append(retry);
  }
  item.node.append(box);
}

/* ---------- typing ---------- */

function onComposerInput() {
  autosize();
  el.sendBtn.disabled = !state.wantRoom || renderCounter(el.charCounter, el.msgInput.value);
  if (!state.joined) return;
  if (!el.msgInput.value.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (now - state.typingSentAt >= TYPING_RESEND_MS) {
    connection.send({ type: "typing", active: true });
    state.typingSentAt = now;
  }
  clearTimeout(state.typingIdleTimer);
  state.typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(state.typingIdleTimer);
  if (state.typingSentAt && state.joined) connection.send({ type: "typing", active: false });
  state.typingSentAt = 0;
}

/* ---------- members and private mode ---------- */

function renderMembers() {
  el.memberPanel.hidden = !state.wantRoom;
  el.memberTitle.textContent = t("members", { count: state.members.length });
  memberList.show(state.members);
}

function setPrivate(name) {
  state.privateTo = name;
  el.privateBar.hidden = !name;
  el.privateLabel.textContent = name ? t("privateMode", { name }) : "";
  el.composer.classList.toggle("private", Boolean(name));
  renderMembers();
  if (name) el.msgInput.focus();
}

function updateMembers(members) {
  state.members = members.filter((name) => typeof name === "string").slice(0, MAX_MEMBERS)
    .map((name) => label(name)).filter(Boolean);
  for (const name of typers.names()) {
    if (!state.members.some((member) => sameName(member, name))) typers.stop(name);
  }
  if (state.privateTo && !state.members.some((member) => sameName(member, state.privateTo))) {
    notice(t("memberGone", { name: state.privateTo }));
    setPrivate(null);
  }
  renderMembers();
  if (state.joined) setStatus("online", t("statusOnline", { room: state.room, count: state.members.length }));
}

/* ---------- joining and leaving ---------- */

function sendJoin() {
  const join = { type: "join", userId: state.name, room: state.room };
  if (state.lastId !== null) join.since = state.lastId;
  if (state.resume) join.resume = state.resume;
  if (state.key) join.key = state.key;
  connection.send(join);
}

function resetRoomView() {
  logView.clear();
  el.outbox.replaceChildren();
  Object.assign(state, { lastId: null, resume: null, seenIds: new Set(), outbox: [],
    members: [], welcomedBefore: false });
  actions.reset();
  search.reset();
  attention.reset();
  setPrivate(null);
}

function showFormError(text) {
  el.formError.textContent = text;
  el.formError.hidden = !text;
}

function showJoinForm() {
  document.body.classList.remove("in-room", "offline");
  el.userId.readOnly = el.room.readOnly = false;
  el.joinBtn.hidden = false;
  el.joinBtn.disabled = false;
  el.joinBtn.textContent = t("join");
  el.leaveBtn.hidden = true;
  el.retryBtn.hidden = true;
  typers.clear();
  renderMembers();
  updateComposer();
  search.setAvailable(false);
}

function requestJoin() {
  const name = el.userId.value.trim();
  const room = el.room.value.trim();
  if (!name || name.length > 32 || hasControlChars(name)) {
    showFormError(name ? errorText("bad_name") : t("needName"));
    return;
  }
  if (!room || room.length > 64 || hasControlChars(room)) {
    showFormError(room ? errorText("bad_room") : t("needRoom"));
    return;
  }
  showFormError("");
  attention.askPermission();
  localStorage.setItem(STORAGE_NAME, name);
  localStorage.setItem(STORAGE_ROOM, room);
  if (!sameName(name, state.name) || room !== state.room) resetRoomView();
  // The stored secret wins: a tab that took this name over meanwhile got a newer one.
  state.resume = localStorage.getItem(resumeKey(name, room)) || state.resume;
  state.name = name;
  state.room = room;
  state.wantRoom = true;
  el.joinBtn.disabled = true;
  el.joinBtn.textContent = t("joining");
  el.userId.readOnly = el.room.readOnly = true;
  setStatus("connecting", t("statusConnecting"));
  if (connection.isOpen) sendJoin();
  else connection.start();
}

function leave() {
  stopTyping();
  connection.send({ type: "leave" });
  connection.stop();
  state.wantRoom = false;
  state.joined = false;
  state.members = [];
  setPrivate(null);
  notice(t("youLeft", { room: state.room }));
  showJoinForm();
  setStatus("idle", t("statusIdle"));
}

function onWelcome(message) {
  state.joined = true;
  if (typeof message.userId === "string") state.name = message.userId;
  if (typeof message.resume === "string") {
    state.resume = message.resume;
    localStorage.setItem(resumeKey(state.name, state.room), message.resume);
  }
  state.welcomeLastId = typeof message.lastId === "number" ? message.lastId : null;
  state.editWindow = Number.isFinite(message.editWindow) && message.editWindow >= 0 ? message.editWindow : null;
  connection.markHealthy();
  document.body.classList.add("in-room");
  document.body.classList.remove("offline");
  el.identity.textContent = state.name + " · " + state.room;
  el.joinBtn.hidden = true;
  el.leaveBtn.hidden = false;
  el.retryBtn.hidden = true;
  notice(state.welcomedBefore ? t("rejoinedRoom", { room: state.room })
    : t("joinedRoom", { room: state.room, count: message.online ?? 1 }));
  state.catchingUp = state.welcomedBefore; // a reconnect: what the history brings is unread
  state.welcomedBefore = true;
  updateMembers(Array.isArray(message.members) ? message.members : []);
  updateComposer();
  search.setAvailable(true);
  files.rejoined();
  el.msgInput.focus();
}

function historyRecords(message) {
  return Array.isArray(message.messages) ? message.messages.slice(-MAX_HISTORY_FRAME) : [];
}

/** Whether the history frames waiting behind this one bring enough new messages to push
    all of this one out of the log: then its messages are counted, not drawn. */
function outrunByWaitingHistory() {
  let coming = 0;
  for (const frame of inbox.waiting()) {
    if (frame.type !== "history") return false;
    for (const record of historyRecords(frame)) {
      if (record && typeof record.id === "number" && !state.seenIds.has(record.id)) coming += 1;
    }
    if (coming >= MAX_LOG) return true;
  }
  return false;
}

/** A history frame, drawn HISTORY_SLICE messages per slice: false while some are left. */
function onHistory(message) {
  if (state.history?.frame !== message) {
    if (message.truncated === true) notice(t("historyTruncated"));
    state.history = { frame: message, records: historyRecords(message), next: 0,
      render: !outrunByWaitingHistory() };
  }
  const { records, render } = state.history;
  const end = render ? Math.min(records.length, state.history.next + HISTORY_SLICE) : records.length;
  for (const record of records.slice(state.history.next, end)) {
    if (!record || typeof record !== "object") continue;
    if (record.type === "edit" || record.type === "delete") receiveEvent(record);
    else receiveChat(record, { countUnread: true, history: true, render });
  }
  state.history.next = end;
  if (end < records.length) return false;
  state.history = null;
  state.catchingUp = false;
  attention.settled();
  if (state.welcomeLastId !== null) {
    state.lastId = state.lastId === null ? state.welcomeLastId : Math.max(state.lastId, state.welcomeLastId);
  }
  flushOutbox();
  return true;
}

function onError(message) {
  const item = message.nonce ? state.outbox.find((entry) => entry.nonce === message.nonce) : null;
  if (item) {
    markFailed(item, message.code);
    return;
  }
  if (files.handle(message) || actions.refused(message) || search.refused(message)) return;
  if (!state.joined && state.wantRoom) {
    // The join itself was refused: stop, and let the person fix name, room or key.
    connection.stop();
    state.wantRoom = false;
    showJoinForm();
    showFormError(errorText(message.code));
    setStatus("offline", errorText(message.code));
    return;
  }
  notice(errorText(message.code), "error");
}

/** One frame from the server; false when it is only partly handled (see FrameQueue). */
function handleFrame(message) {
  switch (message.type) {
    case "welcome": onWelcome(message); break;
    case "history": return onHistory(message);
    case "chat": receiveChat(message, { countUnread: true }); break;
    case "edit": case "delete": receiveEvent(message); break;
    case "results": search.show(message); break;
    case "members": if (Array.isArray(message.members)) updateMembers(message.members); break;
    case "system": onSystem(message); break;
    case "typing":
      if (typeof message.from === "string" && !sameName(message.from, state.name)) {
        if (message.active === false) typers.stop(message.from);
        else typers.start(message.from);
      }
      break;
    case "error": onError(message); break;
    case "file_accept": case "file_ack": files.handle(message); break;
    default: break;
  }
}

function onSystem(message) {
  if (message.event === "join" && typeof message.userId === "string") {
    if (!sameName(message.userId, state.name)) notice(t("userJoined", { name: message.userId }));
  } else if (message.event === "leave" && typeof message.userId === "string") {
    notice(t("userLeft", { name: message.userId }));
  } else if (message.event === "history_reset") {
    // The server's ids start again: resuming from the old last id would wait for nothing.
    Object.assign(state, { lastId: null, seenIds: new Set() });
    notice(t("historyReset"));
  } else if (typeof message.content === "string") {
    notice(message.content);
  }
}

/* ---------- composer ---------- */

function updateComposer() {
  const usable = state.wantRoom;
  el.msgInput.disabled = !usable;
  el.sendBtn.disabled = !usable || characterCount(el.msgInput.value) > CONTENT_MAX;
  el.emojiBtn.disabled = !usable;
  files?.setEnabled(usable);
  el.msgInput.placeholder = state.wantRoom && !state.joined ? t("messagePlaceholderOffline")
    : t("messagePlaceholder");
}

function autosize() {
  el.msgInput.style.height = "auto";
  el.msgInput.style.height = Math.min(el.msgInput.scrollHeight, 160) + "px";
}

/* ---------- wiring ---------- */

el.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!state.wantRoom) requestJoin();
});
el.leaveBtn.addEventListener("click", leave);
el.retryBtn.addEventListener("click", () => {
  el.retryBtn.hidden = true;
  setStatus("connecting", t("statusConnecting"));
  connection.retryNow();
});
el.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  sendMessage();
});
el.msgInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendMessage();
  } else if (event.key === "Escape" && actions.active) {
    actions.cancel();
  } else if (event.key === "Escape" && state.privateTo) {
    setPrivate(null);
  }
});
el.msgInput.addEventListener("input", onComposerInput);
setupEmojiPicker(el.emojiBtn, el.emojiPanel, el.msgInput, onComposerInput);
setupMentionCompletion(el.msgInput, el.mentionList,
  () => state.members.filter((name) => !sameName(name, state.name)), onComposerInput);
el.cancelPrivate.addEventListener("click", () => {
  setPrivate(null);
  el.msgInput.focus();
});
window.addEventListener("online", () => connection.retryNow());

const pageParts = { el, state, connection, node, sameName, notice, setPrivate, newNonce, formatTime,
  renderText: appendLinkified, afterComposerChange: onComposerInput };
const actions = new MessageActions(pageParts);
const search = new SearchPanel({ ...pageParts, jumpTo: (id) => actions.jumpTo(id) });
files = new FileTransfers(pageParts);
applyStaticStrings();
el.userId.value = localStorage.getItem(STORAGE_NAME) || "";
el.room.value = localStorage.getItem(STORAGE_ROOM) || "room-1";
(el.userId.value ? el.joinBtn : el.userId).focus();
