/* What the page accepts from a host: any server may be hostile (docs/protocol.md, "What a
   guest accepts"). The same limits as the desktop app's desktop/guard.py; frames over 1 MiB
   are dropped unparsed by connection.js. */

export const MAX_TEXT = 4000;
export const MAX_NAME = 32;
export const MAX_MEMBERS = 1000;
/** Messages one history frame may add (a RoomChat server sends at most 200). */
export const MAX_HISTORY_FRAME = 200;
/** Bubbles kept in the log; older ones are removed behind one notice. */
export const MAX_LOG = 2000;

const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\u2028\u2029]/gu;

/** A name as the page shows it: text without control, invisible or direction characters, cut. */
export function label(value, maximum = MAX_NAME) {
  const text = typeof value === "string" ? value : String(value);
  return text.slice(0, 4 * maximum).replace(INVISIBLE, "").slice(0, maximum).trim();
}

/** Message text cut to what a RoomChat server allows. */
export function clipText(text) {
  return text.length <= MAX_TEXT ? text : text.slice(0, MAX_TEXT) + "…";
}

/** A chat record held to those limits (a copy; names cleaned, text cut). */
export function guardRecord(message) {
  return {
    ...message,
    from: label(message.from ?? "") || "?",
    content: clipText(message.content),
    to: typeof message.to === "string" ? label(message.to) || undefined : undefined,
  };
}
