/* @mentions in the page: finding "@name" (the rules of desktop/mentions.py), marking it in a
   bubble, and completing a name from the room's members while "@..." is typed. */

const CONTINUES_NAME = /^(?:[\p{L}\p{N}_\-]|\.[\p{L}\p{N}_])/u;

/** [start, end) of every "@name" in text; names compared without regard to case. */
function mentionSpans(text, name) {
  const spans = [];
  if (!name || !text.includes("@")) return spans;
  const folded = text.toLowerCase();
  const needle = "@" + name.toLowerCase();
  for (let start = folded.indexOf(needle); start >= 0; start = folded.indexOf(needle, start + 1)) {
    const end = start + needle.length;
    const before = start === 0 ? "" : text[start - 1];
    if (CONTINUES_NAME.test(text.slice(end)) || /[\p{L}\p{N}]/u.test(before)) continue;
    spans.push([start, end]);
  }
  return spans;
}

export function mentionsName(text, name) {
  return mentionSpans(text, name).length > 0;
}

/** Wrap each "@name" inside a rendered .text element in <mark class="mention-name">. */
export function highlightMentions(textElement, name) {
  const walker = document.createTreeWalker(textElement, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let current = walker.nextNode(); current; current = walker.nextNode()) nodes.push(current);
  for (const textNode of nodes) {
    const spans = mentionSpans(textNode.data, name);
    for (const [start, end] of spans.reverse()) {
      const tail = textNode.splitText(start);
      tail.splitText(end - start);
      const mark = document.createElement("mark");
      mark.className = "mention-name";
      tail.replaceWith(mark);
      mark.append(tail);
    }
  }
}

/** The "@prefix" being typed just before the caret, or null. */
function typedMention(input) {
  const before = input.value.slice(0, input.selectionStart);
  const match = /(?:^|\s)@([^\s@]*)$/.exec(before);
  return match ? match[1] : null;
}

/** A list of matching members above the box; ArrowUp/Down move, Enter/Tab pick, Escape closes. */
export function setupMentionCompletion(input, list, members, onInsert) {
  let shown = [];
  let current = 0;
  const close = () => {
    list.hidden = true;
    shown = [];
  };
  const pick = (name) => {
    const prefix = typedMention(input);
    if (prefix === null) return close();
    const caret = input.selectionStart;
    input.setRangeText("@" + name + " ", caret - prefix.length - 1, caret, "end");
    close();
    input.focus();
    onInsert();
  };
  const render = () => {
    list.replaceChildren(...shown.map((name, index) => {
      const item = document.createElement("li");
      item.className = "mention-option" + (index === current ? " current" : "");
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", String(index === current));
      item.textContent = name;
      item.addEventListener("pointerdown", (event) => {
        event.preventDefault(); // keep the focus (and the caret) in the box
        pick(name);
      });
      return item;
    }));
    list.hidden = shown.length === 0;
  };
  const update = () => {
    const prefix = typedMention(input);
    if (prefix === null) return close();
    const lower = prefix.toLowerCase();
    shown = members().filter((name) => name.toLowerCase().startsWith(lower))
      .sort((a, b) => a.localeCompare(b));
    current = 0;
    render();
  };
  input.addEventListener("input", update);
  input.addEventListener("click", update);
  input.addEventListener("blur", close);
  // Capture on the form: runs before the box's own Enter-sends handler.
  input.form.addEventListener("keydown", (event) => {
    if (list.hidden || event.target !== input) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      current = (current + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      render();
    } else if (event.key === "Enter" || event.key === "Tab") {
      pick(shown[current]);
    } else if (event.key === "Escape") {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }, true);
}
