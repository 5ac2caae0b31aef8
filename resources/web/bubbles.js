/* Building blocks of the log: elements with text (never HTML), times as the page shows them,
   chat bubbles and their delivery mark. */

import { appendLinkified } from "./linkify.js";
import { LANG, t } from "./strings.js";

const TIME_FORMAT = new Intl.DateTimeFormat(LANG === "zh" ? "zh-CN" : "en-US",
  { hour: "numeric", minute: "2-digit" });

/** An element with a class and text content. */
export function node(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

/** "4:05 PM" / "下午4:05"; now when the time is missing, nothing when it cannot be a date. */
export function formatTime(ms) {
  const when = new Date(typeof ms === "number" ? ms : Date.now());
  return Number.isNaN(when.getTime()) ? "" : TIME_FORMAT.format(when);
}

/** A chat bubble; `own` decides the side, `to` marks it private. */
export function chatBubble({ from, content, to, timestamp, own }) {
  const bubble = node("div", "msg " + (own ? "self" : "other"));
  if (to) {
    bubble.dataset.to = to;
    bubble.classList.add("private");
    bubble.append(node("div", "tag", own ? t("privateTo", { name: to }) : t("privateFrom", { name: from })));
  }
  const text = node("div", "text");
  appendLinkified(text, content);
  bubble.append(text);
  const meta = node("div", "meta");
  meta.append(node("span", "from", from), node("span", "dot", "·"),
    node("time", "time", formatTime(timestamp)), node("span", "mark"));
  bubble.append(meta);
  return bubble;
}

export function setBubbleStatus(bubble, status) {
  bubble.dataset.status = status;
  bubble.classList.toggle("pending", status === "sent" || status === "queued");
  bubble.classList.toggle("failed", status === "failed");
  const mark = bubble.querySelector(".mark");
  const label = { sent: t("pending"), queued: t("queued"), delivered: t("delivered"), failed: "" }[status];
  mark.title = label;
  mark.setAttribute("aria-label", label);
  mark.textContent = status === "delivered" ? "✓" : "";
}
