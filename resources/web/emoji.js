/* The emoji button beside the message box: a non-modal grid that inserts at the caret and
   stays open for more; Escape, the button again or a click elsewhere closes it. */

import { t } from "./strings.js";

const PICKER_EMOJI = [
  "😀", "😂", "🙂", "😉", "😊", "😍", "😘", "😎",
  "🤔", "😅", "😢", "😭", "😮", "😡", "😴", "🙄",
  "👍", "👎", "👏", "🙏", "👋", "💪", "🤝", "✌️",
  "❤️", "💔", "🔥", "✨", "🎉", "🎂", "☕", "🍕",
  "✅", "❌", "⚠️", "❓", "💡", "📎", "📅", "🚀",
];

/** Wire the picker: `input` receives the emoji, `onInsert` runs after each (autosize, typing). */
export function setupEmojiPicker(button, panel, input, onInsert) {
  button.title = t("emojiButton");
  button.setAttribute("aria-label", t("emojiButton"));
  panel.setAttribute("aria-label", t("emojiButton"));
  for (const emoji of PICKER_EMOJI) {
    const choice = document.createElement("button");
    choice.type = "button";
    choice.className = "emoji-choice";
    choice.textContent = emoji;
    choice.addEventListener("click", () => {
      const start = input.selectionStart ?? input.value.length;
      const end = input.selectionEnd ?? start;
      input.setRangeText(emoji, start, end, "end");
      input.focus();
      onInsert();
    });
    panel.append(choice);
  }
  const show = (open) => {
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
  };
  button.addEventListener("click", () => show(panel.hidden));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) show(false);
  });
  document.addEventListener("pointerdown", (event) => {
    if (!panel.hidden && !panel.contains(event.target) && !button.contains(event.target)) show(false);
  });
}
