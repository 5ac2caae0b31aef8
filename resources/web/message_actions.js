/* Reply, edit and delete on the page: the hover toolbar of a bubble, the quote inside a reply
   (click: scroll to the original), the reply/edit bar above the composer, and the edit and
   delete events applied in place. Every piece of user data is put in the page as text. */

import { t } from "./strings.js";

const FLASH_MS = 1600;

/** The quote a reply shows, as the server sends it: {id, from, excerpt}; excerpt null = deleted. */
function quoteNode(node, quote, onJump) {
  const block = node("button", "quote");
  block.type = "button";
  block.dataset.target = String(quote.id);
  block.append(node("span", "quote-from", String(quote.from)));
  const excerpt = typeof quote.excerpt === "string" ? quote.excerpt : null;
  block.append(node("span", "quote-text" + (excerpt === null ? " gone" : ""),
    excerpt === null ? t("messageDeleted") : excerpt));
  block.title = t("jumpToOriginal");
  block.addEventListener("click", () => onJump(quote.id));
  return block;
}

/** First non-blank line, at most 80 characters: what the server will quote, shown at once. */
function excerptOf(text) {
  const line = text.split("\n").map((part) => part.trim()).find((part) => part) || "";
  const chars = [...line];
  return chars.length > 80 ? chars.slice(0, 79).join("").trimEnd() + "…" : line;
}

export class MessageActions {
  /** `app` gives what the page owns: el, state, connection, node, sameName, notice, setPrivate,
      newNonce, renderText(parent, text), and afterComposerChange(). */
  constructor(app) {
    this.app = app;
    this.replyTo = null;   // {id, from, excerpt, to} the next message answers
    this.editing = null;   // {id, bubble} whose text the composer holds
    this.pending = new Map(); // nonce -> bubble waiting for its edit/delete to be confirmed
    const { el, node } = app;
    this.bar = node("div", "action-bar");
    this.bar.id = "actionBar";
    this.bar.hidden = true;
    this.barLabel = node("span", "action-label");
    const cancel = node("button", "action-cancel", "×");
    cancel.type = "button";
    cancel.title = t("cancelAction");
    cancel.setAttribute("aria-label", t("cancelAction"));
    cancel.addEventListener("click", () => { this.cancel(); el.msgInput.focus(); });
    this.bar.append(this.barLabel, cancel);
    el.composer.before(this.bar);
  }

  /* ---------- bubbles ---------- */

  /** Give a bubble its quote, its current state and (once it has an id) its toolbar. */
  decorate(bubble, message, { own }) {
    const { node } = this.app;
    if (message.replyTo && typeof message.replyTo.id === "number" && !bubble.querySelector(".quote")) {
      bubble.querySelector(".text").before(quoteNode(node, message.replyTo, (id) => this.jumpTo(id)));
    }
    if (message.deleted === true) {
      this.showDeleted(bubble);
      return;
    }
    if (typeof message.edited === "number") this.markEdited(bubble);
    if (typeof message.id === "number" && message.id > 0 && !bubble.querySelector(".msg-actions")) {
      bubble.append(this.toolbar(bubble, own));
      if (own && Number.isFinite(message.timestamp)) {
        bubble.addEventListener("pointerenter", () => this.offerChanges(bubble, message.timestamp));
        this.offerChanges(bubble, message.timestamp);
      }
    }
  }

  /** Edit and Delete only while the server's edit window still allows them (it refuses after). */
  offerChanges(bubble, sent) {
    const window = this.app.state.editWindow;
    const open = window === null || Date.now() - sent <= window * 1000;
    for (const button of bubble.querySelectorAll(".act-edit, .act-delete")) button.hidden = !open;
  }

  toolbar(bubble, own) {
    const { node } = this.app;
    const bar = node("div", "msg-actions");
    const add = (className, symbol, label, action) => {
      const button = node("button", className, symbol);
      button.type = "button";
      button.title = label;
      button.setAttribute("aria-label", label);
      button.addEventListener("click", (event) => { event.stopPropagation(); action(); });
      bar.append(button);
    };
    add("act-reply", "↩", t("reply"), () => this.startReply(bubble));
    if (own) {
      add("act-edit", "✎", t("edit"), () => this.startEdit(bubble));
      add("act-delete", "🗑", t("delete"), () => this.confirmDelete(bubble));
    }
    return bar;
  }

  markEdited(bubble) {
    if (bubble.querySelector(".edited")) return;
    const { node } = this.app;
    bubble.querySelector(".meta .time").after(node("span", "edited", t("edited")));
  }

  showDeleted(bubble) {
    const { node } = this.app;
    bubble.classList.add("deleted");
    for (const part of bubble.querySelectorAll(".quote, .msg-actions, .edited, .confirm-delete")) part.remove();
    bubble.querySelector(".text").replaceChildren(node("span", "", t("messageDeleted")));
    if (this.editing && this.editing.bubble === bubble) this.cancel();
    if (this.replyTo && String(this.replyTo.id) === bubble.dataset.id) this.cancel();
  }

  bubbleOf(id) {
    return this.app.el.log.querySelector(`.msg[data-id="${Number(id)}"]`);
  }

  /** Scroll to a message and flash it; say so when it is older than what the page loaded. */
  jumpTo(id) {
    const bubble = this.bubbleOf(id);
    if (!bubble) {
      this.app.notice(t("originalNotLoaded"));
      return false;
    }
    bubble.scrollIntoView({ block: "center", behavior: "smooth" });
    bubble.classList.remove("flash");
    void bubble.offsetWidth; // restart the animation
    bubble.classList.add("flash");
    setTimeout(() => bubble.classList.remove("flash"), FLASH_MS);
    return true;
  }

  /* ---------- reply and edit bar ---------- */

  startReply(bubble) {
    const { state, setPrivate, sameName, el } = this.app;
    this.cancel();
    const text = bubble.querySelector(".text").textContent;
    const from = bubble.querySelector(".meta .from").textContent;
    const to = bubble.dataset.to || null;
    this.replyTo = { id: Number(bubble.dataset.id), from, excerpt: excerptOf(text), to };
    // A private message is answered in private: a public reply would show its excerpt to all.
    if (to) setPrivate(sameName(from, state.name) ? to : from);
    this.showBar(t("replyingTo", { name: from, text: this.replyTo.excerpt }), "reply");
    el.msgInput.focus();
  }

  startEdit(bubble) {
    const { el } = this.app;
    this.cancel();
    this.editing = { id: Number(bubble.dataset.id), bubble };
    el.msgInput.value = bubble.querySelector(".text").textContent;
    this.showBar(t("editingMessage"), "edit");
    this.app.afterComposerChange();
    el.msgInput.focus();
    el.msgInput.setSelectionRange(el.msgInput.value.length, el.msgInput.value.length);
  }

  showBar(text, kind) {
    this.barLabel.textContent = text;
    this.bar.dataset.kind = kind;
    this.bar.hidden = false;
  }

  /** Leave reply or edit mode (Escape, ×, or a room change). */
  cancel() {
    const wasEditing = Boolean(this.editing);
    this.replyTo = null;
    this.editing = null;
    this.bar.hidden = true;
    if (wasEditing) {
      this.app.el.msgInput.value = "";
      this.app.afterComposerChange();
    }
    return wasEditing;
  }

  get active() {
    return Boolean(this.replyTo || this.editing);
  }

  /** The reply the message being sent carries (and leave reply mode). */
  takeReply() {
    const reply = this.replyTo;
    if (reply) this.cancel();
    return reply;
  }

  /** Send the composer's text as an edit; false when not editing. */
  submitEdit(content) {
    if (!this.editing) return false;
    const { bubble, id } = this.editing;
    const original = bubble.querySelector(".text").textContent;
    this.editing = null;
    this.bar.hidden = true;
    if (content !== original) this.send(bubble, { type: "edit", id, content });
    return true;
  }

  confirmDelete(bubble) {
    const { node } = this.app;
    if (bubble.querySelector(".confirm-delete")) return;
    const box = node("div", "confirm-delete");
    box.append(node("span", "", t("deleteConfirm")));
    const yes = node("button", "confirm-yes", t("delete"));
    yes.type = "button";
    yes.addEventListener("click", () => { box.remove(); this.send(bubble, { type: "delete", id: Number(bubble.dataset.id) }); });
    const no = node("button", "confirm-no", t("cancel"));
    no.type = "button";
    no.addEventListener("click", () => box.remove());
    box.append(yes, no);
    bubble.append(box);
    yes.focus();
  }

  send(bubble, frame) {
    const { connection, newNonce } = this.app;
    frame.nonce = newNonce();
    if (!connection.send(frame)) {
      this.app.notice(t("actionOffline"), "error");
      return;
    }
    this.pending.set(frame.nonce, bubble);
    bubble.classList.add("changing");
  }

  /* ---------- events from the server ---------- */

  /** An edit or delete event (live or from a resumed history). */
  apply(event) {
    if (event.nonce) {
      this.pending.get(event.nonce)?.classList.remove("changing");
      this.pending.delete(event.nonce);
    }
    const bubble = this.bubbleOf(event.target);
    if (event.type === "edit" && typeof event.content === "string") {
      if (!bubble || bubble.classList.contains("deleted")) return;
      const text = bubble.querySelector(".text");
      text.replaceChildren();
      this.app.renderText(text, event.content);
      this.markEdited(bubble);
    } else if (event.type === "delete") {
      if (bubble) this.showDeleted(bubble);
      for (const quote of this.app.el.log.querySelectorAll(`.quote[data-target="${Number(event.target)}"] .quote-text`)) {
        quote.textContent = t("messageDeleted");
        quote.classList.add("gone");
      }
    }
  }

  /** A refusal of our edit or delete: say why next to the bubble. True if it was one of ours. */
  refused(error) {
    const bubble = error.nonce ? this.pending.get(error.nonce) : null;
    if (!bubble) return false;
    this.pending.delete(error.nonce);
    bubble.classList.remove("changing");
    this.app.notice(t("actionRefused", { reason: t("errors." + error.code) }), "error");
    return true;
  }

  reset() {
    this.cancel();
    this.pending.clear();
  }
}
