/* The message length limit, checked in the page before sending: the server refuses a message
   over 4000 characters (code points, not UTF-16 units), and retrying it could never succeed. */

import { t } from "./strings.js";

export const CONTENT_MAX = 4000;
const COUNTER_FROM = CONTENT_MAX - 500;
/** Refusals that sending the same text again cannot overcome: such a bubble offers no Retry. */
export const FINAL_REFUSALS = new Set(["too_long", "empty", "bad_message"]);

/** Characters as the server counts them (an emoji or a rare CJK character is one). */
export function characterCount(text) {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Show "3612 / 4000" near the limit, how much to cut beyond it; true when over the limit. */
export function renderCounter(counter, text) {
  const length = characterCount(text);
  const over = length > CONTENT_MAX;
  counter.hidden = length < COUNTER_FROM;
  counter.classList.toggle("over", over);
  counter.textContent = over
    ? t("tooLongCounter", { length, max: CONTENT_MAX, cut: length - CONTENT_MAX })
    : length + " / " + CONTENT_MAX;
  return over;
}
