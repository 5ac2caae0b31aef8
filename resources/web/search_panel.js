/* Search on the page: a panel over the chat (Ctrl+F or the search button) that asks the server
   (`search`), lists the matches newest first and jumps to one when it is clicked. */

import { t } from "./strings.js";

const DEBOUNCE_MS = 300;

/** Put text into parent with every occurrence of the query's words marked (case-insensitive). */
function appendHighlighted(node, parent, text, words) {
  const lower = text.toLowerCase();
  const marks = [];
  for (const word of words) {
    let at = lower.indexOf(word);
    while (word && at !== -1) {
      marks.push([at, at + word.length]);
      at = lower.indexOf(word, at + word.length);
    }
  }
  marks.sort((a, b) => a[0] - b[0]);
  let last = 0;
  for (const [start, end] of marks) {
    if (start < last) continue;
    parent.append(document.createTextNode(text.slice(last, start)));
    parent.append(node("mark", "", text.slice(start, end)));
    last = end;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

export class SearchPanel {
  /** `app`: el, state, connection, node, newNonce, formatTime, jumpTo(id) -> bool. */
  constructor(app) {
    this.app = app;
    this.nonce = null;
    this.timer = null;
    const { node, el } = app;
    this.panel = node("section", "search-panel");
    this.panel.id = "searchPanel";
    this.panel.hidden = true;
    this.panel.setAttribute("role", "search");
    const row = node("div", "search-row");
    this.input = node("input", "search-input");
    this.input.id = "searchInput";
    this.input.type = "search";
    this.input.maxLength = 200;
    this.input.spellcheck = false;
    const close = node("button", "search-close", "×");
    close.type = "button";
    close.id = "searchClose";
    this.closeButton = close;
    close.addEventListener("click", () => this.close());
    row.append(this.input, close);
    this.status = node("div", "search-status");
    this.status.id = "searchStatus";
    this.status.setAttribute("aria-live", "polite");
    this.results = node("ol", "search-results");
    this.results.id = "searchResults";
    this.panel.append(row, this.status, this.results);
    el.scroller.before(this.panel);

    this.toggle = node("button", "search-toggle");
    this.toggle.id = "searchToggle";
    this.toggle.type = "button";
    this.toggle.hidden = true;
    this.toggle.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
    el.memberPanel.before(this.toggle);

    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.ask(), DEBOUNCE_MS);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        clearTimeout(this.timer);
        this.ask();
      } else if (event.key === "Escape") {
        this.close();
      }
    });
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "f" && this.app.state.joined) {
        event.preventDefault();
        this.open();
      }
    });
    this.applyStrings();
  }

  applyStrings() {
    this.input.placeholder = t("searchPlaceholder");
    this.closeButton.title = t("searchClose");
    this.closeButton.setAttribute("aria-label", t("searchClose"));
    this.toggle.textContent = "🔍 " + t("search");
    this.toggle.title = t("searchHint");
  }

  /** The toggle shows while in a room. */
  setAvailable(available) {
    this.toggle.hidden = !available;
    if (!available) this.close();
  }

  open() {
    this.panel.hidden = false;
    this.input.focus();
    this.input.select();
  }

  close() {
    this.panel.hidden = true;
    clearTimeout(this.timer);
    this.nonce = null;
    if (!this.app.el.msgInput.disabled) this.app.el.msgInput.focus();
  }

  ask() {
    const query = this.input.value.trim().split(/\s+/).filter(Boolean).join(" ");
    if (!query) {
      this.status.textContent = "";
      this.results.replaceChildren();
      return;
    }
    if ([...query].length > 200 || query.split(" ").length > 8) {
      this.status.textContent = t("searchTooLong");
      return;
    }
    this.nonce = this.app.newNonce();
    if (!this.app.connection.send({ type: "search", query, nonce: this.nonce })) {
      this.status.textContent = t("actionOffline");
      return;
    }
    this.status.textContent = t("searching");
  }

  /** A `results` frame: show it if it answers the newest question. */
  show(message) {
    if (message.nonce !== this.nonce || !Array.isArray(message.messages)) return;
    const { node, formatTime } = this.app;
    const words = String(message.query).toLowerCase().split(" ").filter(Boolean);
    const found = message.messages.filter((m) => typeof m.id === "number" && typeof m.content === "string");
    this.status.textContent = found.length === 0 ? t("searchNone")
      : t(found.length === 1 ? "searchOne" : "searchMany", { count: found.length });
    this.results.replaceChildren(...found.map((m) => {
      const item = node("li", "search-result");
      const button = node("button", "result-open");
      button.type = "button";
      button.dataset.id = String(m.id);
      const head = node("div", "result-head");
      head.append(node("span", "result-from", String(m.from)));
      if (m.to) head.append(node("span", "result-private", t("privateTag")));
      head.append(node("time", "result-time", formatTime(m.timestamp)));
      const text = node("div", "result-text");
      appendHighlighted(node, text, m.content, words);
      button.append(head, text);
      button.addEventListener("click", () => {
        if (this.app.jumpTo(m.id) || item.querySelector(".result-note")) return;
        item.append(node("div", "result-note", t("originalNotLoaded")));
      });
      item.append(button);
      return item;
    }));
  }

  /** A refusal of our search. True if it was ours. */
  refused(error) {
    if (!error.nonce || error.nonce !== this.nonce) return false;
    const reason = error.code === "unavailable" ? t("searchUnavailable") : t("errors." + error.code);
    this.status.textContent = t("searchFailed", { reason });
    return true;
  }

  reset() {
    this.input.value = "";
    this.status.textContent = "";
    this.results.replaceChildren();
    this.close();
  }
}
