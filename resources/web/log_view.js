/* The message log: entries in arrival order, the view following the conversation unless the
   reader scrolled up (then "N new messages" counts what came), the newest MAX_LOG entries kept
   behind one notice. Inside a slice of frames (frame_queue.js) the log is measured and
   scrolled once, when the slice ends, not once per message. */

import { MAX_LOG } from "./guard.js";
import { t } from "./strings.js";

const NEAR_BOTTOM_PX = 48;
/** Entries behind the newest FRESH_ENTRIES are "settled": laid out only while on screen
    (app.css), so following the conversation scrolls exactly to the real end. */
const FRESH_ENTRIES = 40;

export class LogView {
  constructor({ log, scroller, newMessages }) {
    Object.assign(this, { log, scroller, newMessages });
    this.unread = 0;
    this.slice = null;      // {follow, unread} while a slice of frames is handled
    this.trimMarker = null;
    newMessages.addEventListener("click", () => this.scrollToBottom());
    scroller.addEventListener("scroll", () => {
      if (this.unread && this.nearBottom()) this.scrollToBottom();
    });
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.unread = 0;
    this.newMessages.hidden = true;
  }

  /** Add an entry; `countUnread`: it counts as new when the reader is not at the end. */
  append(item, { countUnread }) {
    if (this.slice) {
      this.log.append(item);
      if (countUnread && !this.slice.follow) this.slice.unread += 1;
      return;
    }
    const follow = this.nearBottom();
    this.log.append(item);
    this.trim();
    if (follow) this.scrollToBottom();
    else if (countUnread) this.countNew(1);
  }

  startSlice() {
    this.slice = { follow: this.nearBottom(), unread: 0 };
  }

  endSlice() {
    const { follow, unread } = this.slice;
    this.slice = null;
    this.trim();
    if (follow) this.scrollToBottom();
    else if (unread) this.countNew(unread);
  }

  /** Another room: an empty log, nothing unread. */
  clear() {
    this.log.replaceChildren();
    this.unread = 0;
    this.newMessages.hidden = true;
  }

  countNew(count) {
    this.unread += count;
    this.newMessages.textContent = this.unread === 1 ? t("newMessagesOne")
      : t("newMessagesMany", { count: this.unread });
    this.newMessages.hidden = false;
  }

  /** Settle what fell behind the fresh entries; keep the newest MAX_LOG behind one notice. */
  trim() {
    let item = this.log.children[this.log.childElementCount - 1 - FRESH_ENTRIES];
    for (; item && !item.classList.contains("settled"); item = item.previousElementSibling) {
      item.classList.add("settled");
    }
    if (this.log.childElementCount <= MAX_LOG) return;
    if (!this.trimMarker || !this.trimMarker.isConnected) {
      this.trimMarker = document.createElement("div");
      this.trimMarker.className = "msg system";
      this.trimMarker.textContent = t("logTrimmed");
      this.log.prepend(this.trimMarker);
    }
    const cut = document.createRange();
    cut.setStartAfter(this.trimMarker);
    cut.setEndBefore(this.log.children[this.log.childElementCount - MAX_LOG]);
    cut.deleteContents();
  }
}
