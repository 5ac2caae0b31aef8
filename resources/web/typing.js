/* "alice is typing…" under the log: who is typing, each forgotten after a silence. */

import { t } from "./strings.js";

const TYPING_EXPIRE_MS = 6000;

export class TypingIndicator {
  constructor(line) {
    this.line = line;
    this.typers = new Map(); // name -> expiry timer
  }

  start(name) {
    clearTimeout(this.typers.get(name));
    this.typers.set(name, setTimeout(() => this.stop(name), TYPING_EXPIRE_MS));
    this.render();
  }

  stop(name) {
    if (!this.typers.has(name)) return;
    clearTimeout(this.typers.get(name));
    this.typers.delete(name);
    this.render();
  }

  clear() {
    for (const name of this.names()) this.stop(name);
  }

  names() {
    return [...this.typers.keys()];
  }

  render() {
    const names = this.names();
    this.line.textContent = names.length === 0 ? ""
      : names.length === 1 ? t("typingOne", { a: names[0] })
        : names.length === 2 ? t("typingTwo", { a: names[0], b: names[1] })
          : t("typingMany");
  }
}
