/* While the page is not looked at: a "New messages" line above the first unread message,
   "(N)" in the tab's title ("(@N)" once someone mentions us), and for a mention a desktop
   notification where the person allowed them. Looking again clears title; the line stays
   until the next time away. */

import { t } from "./strings.js";

export class Attention {
  constructor(log) {
    this.log = log;
    this.unread = 0;
    this.mentioned = false;
    this.marker = null;     // the "New messages" line
    this.markerFresh = false; // placed during the current time away (or catch-up)
    const back = () => {
      if (!this.away()) this.seen();
    };
    document.addEventListener("visibilitychange", back);
    window.addEventListener("focus", back);
  }

  away() {
    return document.hidden || !document.hasFocus();
  }

  /** Ask for desktop notifications: call from a click (browsers require a gesture). */
  askPermission() {
    if (typeof Notification !== "undefined" && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
  }

  /** A message by someone else was added: `catchUp` = history after a reconnect. */
  arrived(bubble, { from, content, mentioned, catchUp }) {
    const away = this.away();
    if (away || catchUp) this.mark(bubble);
    if (!away) return;
    this.unread += 1;
    this.mentioned = this.mentioned || mentioned;
    this.showTitle();
    if (mentioned && typeof Notification !== "undefined" && Notification.permission === "granted") {
      new Notification(t("mentionedBy", { name: from }), { body: content.slice(0, 200), tag: "roomchat" });
    }
  }

  /** The catch-up history is in: later messages while away start a new line. */
  settled() {
    if (!this.away()) this.markerFresh = false;
  }

  mark(bubble) {
    if (this.markerFresh && this.marker && this.marker.isConnected) return;
    this.marker?.remove();
    this.marker = document.createElement("div");
    this.marker.className = "unread-marker";
    this.marker.setAttribute("role", "separator");
    this.marker.textContent = t("newMessagesLine");
    bubble.before(this.marker);
    this.markerFresh = true;
  }

  showTitle() {
    const count = this.unread ? "(" + (this.mentioned ? "@" : "") + this.unread + ") " : "";
    document.title = count + t("title");
  }

  /** The page is looked at again: the count goes, the line stays where it is. */
  seen() {
    this.unread = 0;
    this.mentioned = false;
    this.markerFresh = false;
    this.showTitle();
  }

  /** Another room: nothing is unread there yet. */
  reset() {
    this.marker?.remove();
    this.marker = null;
    this.seen();
  }
}
