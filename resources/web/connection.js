/* The WebSocket back to the server that served this page (protocol v2), kept alive with an
   application heartbeat and re-opened with exponential backoff that never gives up. */

const SUBPROTOCOL = "roomchat.v2";
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const TRIES_BEFORE_GIVING_UP_NOTICE = 10;
const PING_EVERY_MS = 30000;
const PONG_TIMEOUT_MS = 10000;
/** Longer frames are ignored unparsed: a RoomChat server's largest, a history page, is at
    most 512 KiB (the page's other guest limits are in guard.js). */
const MAX_FRAME_CHARS = 1024 * 1024;
/** What a RoomChat server answers on /healthz is small: more is not read. */
const HEALTH_MAX_BYTES = 64 * 1024;

/** Wait before reconnect try `attempt` (1-based): 1 s doubling up to 30 s, with ±25 % jitter. */
function backoffDelay(attempt) {
  const base = Math.min(BACKOFF_FIRST_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS);
  return Math.min(BACKOFF_MAX_MS, Math.round(base * (0.75 + Math.random() * 0.5)));
}

/** Whether the server that served this page is a RoomChat server, asked after a websocket
    try failed before it opened (the browser hides why: a refusal, or an upgrade answered with
    a web page). "roomchat", "other" (it answers, but not as RoomChat), or "unreachable". */
async function identifyServer() {
  let response;
  try {
    response = await fetch("/healthz", { cache: "no-store", credentials: "omit" });
  } catch (err) {
    return "unreachable";
  }
  const reader = response.body?.getReader();
  const chunks = [];
  let size = 0;
  try {
    while (reader && size <= HEALTH_MAX_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch (err) {
    return "unreachable";
  } finally {
    reader?.cancel().catch(() => {});
  }
  if (size > HEALTH_MAX_BYTES) return "other";
  let health = null;
  try {
    health = JSON.parse(new TextDecoder().decode(await new Blob(chunks).arrayBuffer()));
  } catch (err) {
    return "other";
  }
  return health && typeof health === "object" && typeof health.version === "string"
    && typeof health.status === "string" ? "roomchat" : "other";
}

/**
 * One logical connection that survives drops.
 * handlers: onOpen(), onFrame(msg), onDown({attempt, delayMs, gaveUp, notRoomChat}), onReplaced().
 * The owner calls markHealthy() once the server accepted the join, which resets the backoff:
 * a socket that opens and is closed again at once still counts as a failed try.
 */
export class ChatConnection {
  constructor(handlers) {
    this.handlers = handlers;
    this.ws = null;
    this.wanted = false;
    this.failedTries = 0;
    this.opened = false;    // the current socket has opened (else a failure is asked about)
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Connect (if not connected) and keep reconnecting until stop(). */
  start() {
    this.wanted = true;
    if (!this.ws && !this.reconnectTimer) this.open();
  }

  /** Close on purpose: no reconnect. */
  stop() {
    this.wanted = false;
    this.cancelReconnect();
    const ws = this.ws;
    this.detach();
    if (ws) ws.close(1000);
  }

  /** Skip the remaining backoff wait and try now. */
  retryNow() {
    if (!this.wanted || this.ws) return;
    this.cancelReconnect();
    this.open();
  }

  markHealthy() {
    this.failedTries = 0;
  }

  /** Send one message; false when there is no open socket (the caller queues). */
  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Send one binary frame (an upload chunk); false when there is no open socket. */
  sendBytes(data) {
    if (!this.isOpen) return false;
    this.ws.send(data);
    return true;
  }

  open() {
    this.reconnectTimer = null;
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/";
    const ws = new WebSocket(url, [SUBPROTOCOL]);
    this.ws = ws;
    this.opened = false;
    ws.onopen = () => {
      this.opened = true;
      this.startHeartbeat();
      this.handlers.onOpen();
    };
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = (event) => this.lost(event.code);
  }

  receive(data) {
    if (typeof data !== "string" || data.length > MAX_FRAME_CHARS) return;  // a hostile host's
    let message;
    try {
      message = JSON.parse(data);
    } catch (err) {
      return;
    }
    if (!message || typeof message !== "object" || typeof message.type !== "string") return;
    if (message.type === "pong") {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
      return;
    }
    this.handlers.onFrame(message);
  }

  startHeartbeat() {
    this.pingTimer = setInterval(() => {
      if (this.pongTimer || !this.send({ type: "ping" })) return;
      this.pongTimer = setTimeout(() => this.declareDead(), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  /** No pong in time: the socket may look open but nothing gets through. Drop it now. */
  declareDead() {
    const ws = this.ws;
    this.lost(null);
    if (ws) ws.close();
  }

  detach() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
    if (this.ws) {
      this.ws.onopen = this.ws.onmessage = this.ws.onclose = null;
      this.ws = null;
    }
  }

  lost(code) {
    this.detach();
    if (code === 4000) {
      this.wanted = false;
      this.handlers.onReplaced();
      return;
    }
    if (!this.wanted) return;
    const gaveUp = this.failedTries >= TRIES_BEFORE_GIVING_UP_NOTICE;
    const delayMs = gaveUp ? BACKOFF_MAX_MS : backoffDelay(this.failedTries + 1);
    this.failedTries += 1;
    const timer = setTimeout(() => this.open(), delayMs);
    this.reconnectTimer = timer;
    const down = { attempt: this.failedTries, delayMs, gaveUp, notRoomChat: false };
    this.handlers.onDown(down);
    if (this.opened) return;
    identifyServer().then((kind) => {
      // Still the same wait: say that this address is not a chat server.
      if (kind === "other" && this.reconnectTimer === timer) this.handlers.onDown({ ...down, notRoomChat: true });
    });
  }

  cancelReconnect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }
}
