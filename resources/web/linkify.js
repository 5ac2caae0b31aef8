/* Message text with its http(s) links made clickable, built from text nodes and <a> elements
   only: nothing a message says is ever parsed as HTML. A click on a link shows its full
   target and opens it only when confirmed. */

import { t } from "./strings.js";

/* A link ends at whitespace and at invisible or direction-changing characters. */
const URL_PATTERN = /https?:\/\/[^\s<>"'`\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?)\]}'"。,!?;:)】」』]+$/;

/** Put text into parent, turning http(s) URLs into links; everything else stays text. */
export function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const raw = match[0].replace(TRAILING_PUNCTUATION, "");
    let url = null;
    try {
      url = new URL(raw);
    } catch (err) {
      url = null;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    parent.append(document.createTextNode(text.slice(last, match.index)));
    const link = document.createElement("a");
    link.className = "link";
    link.textContent = raw;
    link.href = url.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    // Ask first, showing the full target as the browser will get it (punycode, %XX escapes).
    link.addEventListener("click", (event) => {
      if (!window.confirm(t("openLink", { url: url.href }))) event.preventDefault();
    });
    parent.append(link);
    last = match.index + raw.length;
  }
  parent.append(document.createTextNode(text.slice(last)));
}
