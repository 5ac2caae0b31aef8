/* Shared files in the page: attach button, drag and drop, paste; uploads over the page's
   WebSocket in binary chunks inside the server's credit window (docs/protocol.md, "Files"),
   with progress and Cancel, resumed after a reconnect; file records shown as inline images
   (PNG, JPEG, GIF, WebP, as the server recognised them) or download links. */

import { errorText, t } from "./strings.js";

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const PARALLEL = 2; // uploads at once (the server allows 4 per connection)
const HEADER = 4;   // bytes of upload handle before each chunk

/** 532 B, 1.4 KiB, 12.0 MiB: the same units the server writes. */
export function formatSize(size) {
  let value = size;
  for (const unit of ["B", "KiB", "MiB", "GiB"]) {
    if (value < 1024 || unit === "GiB") return unit === "B" ? `${size} B` : `${value.toFixed(1)} ${unit}`;
    value /= 1024;
  }
  return `${size} B`;
}

export class FileTransfers {
  /** parts: el, state, connection, node, notice, newNonce */
  constructor(parts) {
    Object.assign(this, parts);
    this.uploads = [];       // {file, name, nonce, to, token, handle, sent, acked, window, chunk, status, view}
    this.byNonce = new Map();
    this.setup();
  }

  setup() {
    const { el } = this;
    this.picker = this.node("input");
    this.picker.type = "file";
    this.picker.multiple = true;
    this.picker.hidden = true;
    this.picker.id = "filePicker";
    this.attach = this.node("button", "attach", "📎");
    this.attach.type = "button";
    this.attach.id = "attachBtn";
    this.attach.title = t("attachFile");
    this.attach.setAttribute("aria-label", t("attachFile"));
    el.composer.prepend(this.attach, this.picker);
    this.attach.addEventListener("click", () => this.picker.click());
    this.picker.addEventListener("change", () => {
      this.add([...this.picker.files]);
      this.picker.value = "";
    });
    const chat = document.getElementById("chat");
    chat.addEventListener("dragover", (event) => {
      if (!this.usable() || !event.dataTransfer.types.includes("Files")) return;
      event.preventDefault();
      chat.classList.add("dropping");
    });
    chat.addEventListener("dragleave", (event) => {
      if (event.target === chat) chat.classList.remove("dropping");
    });
    chat.addEventListener("drop", (event) => {
      chat.classList.remove("dropping");
      if (!this.usable() || !event.dataTransfer.files.length) return;
      event.preventDefault();
      this.add([...event.dataTransfer.files]);
    });
    el.msgInput.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (!files.length || !this.usable()) return;
      event.preventDefault();
      this.add(files.map((file, index) => (file.name && file.name !== "image.png") ? file
        : new File([file], pastedName(file.type, index), { type: file.type })));
    });
  }

  usable() {
    return this.state.wantRoom;
  }

  setEnabled(enabled) {
    this.attach.disabled = !enabled;
  }

  /** Queue files; each gets its progress row at once and starts when a slot is free. */
  add(files) {
    for (const file of files) {
      const upload = { file, name: file.name || "file", nonce: this.newNonce(), to: this.state.privateTo,
        token: null, handle: null, sent: 0, acked: 0, window: 0, chunk: 0, status: "queued", view: null };
      upload.view = this.progressView(upload);
      this.uploads.push(upload);
      this.byNonce.set(upload.nonce, upload);
    }
    this.startNext();
  }

  progressView(upload) {
    const row = this.node("div", "msg self upload");
    row.dataset.nonce = upload.nonce;
    if (upload.to) row.append(this.node("div", "tag", t("privateTo", { name: upload.to })));
    const line = this.node("div", "upload-line");
    line.append(this.node("span", "file-icon", "📄"), this.node("span", "file-name", upload.name),
      this.node("span", "file-size", formatSize(upload.file.size)));
    const bar = this.node("progress");
    bar.max = Math.max(upload.file.size, 1);
    bar.value = 0;
    const cancel = this.node("button", "cancel-upload", t("cancelUpload"));
    cancel.type = "button";
    cancel.addEventListener("click", () => this.cancel(upload));
    const status = this.node("div", "upload-status", t("uploadWaiting"));
    row.append(line, bar, status, cancel);
    this.el.outbox.append(row);
    row.scrollIntoView({ block: "end" });
    return row;
  }

  setProgress(upload, text) {
    upload.view.querySelector("progress").value = upload.acked;
    upload.view.querySelector(".upload-status").textContent = text
      ?? t("uploadProgress", { done: formatSize(upload.acked), total: formatSize(upload.file.size) });
  }

  active() {
    return this.uploads.filter((u) => u.status === "offered" || u.status === "sending");
  }

  startNext() {
    if (!this.state.joined) return;
    for (const upload of this.uploads) {
      if (this.active().length >= PARALLEL) return;
      if (upload.status === "queued") this.offer(upload);
    }
  }

  offer(upload) {
    const message = { type: "file_offer", name: upload.name, size: upload.file.size,
      mime: upload.file.type || "application/octet-stream", nonce: upload.nonce };
    if (upload.to) message.to = upload.to;
    if (upload.token) message.upload = upload.token;
    if (this.connection.send(message)) upload.status = "offered";
  }

  cancel(upload) {
    if (upload.token && upload.status !== "done") this.connection.send({ type: "file_cancel", upload: upload.token });
    this.finish(upload);
    this.startNext();
  }

  finish(upload) {
    upload.status = "done";
    upload.view.remove();
    this.uploads.splice(this.uploads.indexOf(upload), 1);
    this.byNonce.delete(upload.nonce);
  }

  /** A frame for the uploads (file_accept, file_ack, an error with an upload's nonce); true if taken. */
  handle(message) {
    if (message.type === "file_accept") {
      const upload = this.byNonce.get(message.nonce);
      if (!upload || upload.status !== "offered") return true;
      Object.assign(upload, { token: message.upload, handle: message.handle, sent: message.offset,
        acked: message.offset, window: message.window, chunk: message.chunk, status: "sending" });
      this.setProgress(upload);
      this.pump(upload);
      return true;
    }
    if (message.type === "file_ack") {
      const upload = this.uploads.find((u) => u.token === message.upload);
      if (upload && upload.status === "sending") {
        upload.acked = Math.max(upload.acked, message.offset);
        this.setProgress(upload, upload.acked >= upload.file.size ? t("uploadStoring") : undefined);
        this.pump(upload);
      }
      return true;
    }
    if (message.type === "error" && message.nonce && this.byNonce.has(message.nonce)) {
      const upload = this.byNonce.get(message.nonce);
      if (message.code === "too_many_uploads") {
        upload.status = "queued"; // another tab or window of ours is sending: try again later
        setTimeout(() => this.startNext(), 1000);
        return true;
      }
      upload.status = "failed";
      upload.view.classList.add("failed");
      this.setProgress(upload, t("failedPrefix") + errorText(message.code));
      upload.view.querySelector(".cancel-upload").textContent = t("dismiss");
      this.startNext();
      return true;
    }
    return false;
  }

  /** Send chunks while the window has room; each chunk is read from the file only when sent. */
  async pump(upload) {
    if (upload.pumping) return;
    upload.pumping = true;
    try {
      const size = upload.file.size;
      while (upload.status === "sending" && upload.sent < size) {
        const length = Math.min(upload.chunk, size - upload.sent);
        if (upload.sent + length - upload.acked > upload.window) return; // the next ack calls again
        const start = upload.sent;
        const data = await upload.file.slice(start, start + length).arrayBuffer();
        if (upload.status !== "sending" || upload.sent !== start) return;
        const frame = new Uint8Array(HEADER + length);
        new DataView(frame.buffer).setUint32(0, upload.handle);
        frame.set(new Uint8Array(data), HEADER);
        if (!this.connection.sendBytes(frame)) return; // offline: resumed after the rejoin
        upload.sent = start + length;
      }
    } finally {
      upload.pumping = false;
    }
  }

  /** After a (re)join: every unfinished upload is offered again, with its resume secret. */
  rejoined() {
    for (const upload of this.uploads) {
      if (upload.status === "offered" || upload.status === "sending") upload.status = "queued";
    }
    this.startNext();
  }

  /** The record of a finished upload arrived: its progress row gives way to the bubble. */
  recorded(message) {
    const upload = message.nonce ? this.byNonce.get(message.nonce) : null;
    if (upload) {
      this.finish(upload);
      this.startNext();
    }
  }

  /** The body of a file message: an inline image, or name, size and a download link. */
  render(file) {
    const url = String(file.url || "");
    const name = String(file.name || "file");
    const size = formatSize(Number(file.size) || 0);
    const safeUrl = url.startsWith("/files/") ? url : null;
    const box = this.node("div", "file");
    if (safeUrl && IMAGE_TYPES.has(file.type)) {
      const link = this.node("a", "file-image");
      link.href = safeUrl;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      const image = this.node("img");
      image.src = safeUrl;
      image.alt = name;
      image.loading = "lazy";
      link.append(image);
      box.append(link);
    }
    const line = this.node("div", "file-line");
    line.append(this.node("span", "file-icon", IMAGE_TYPES.has(file.type) ? "🖼" : "📄"),
      this.node("span", "file-name", name), this.node("span", "file-size", size));
    if (safeUrl) {
      const download = this.node("a", "file-download", t("download"));
      download.href = safeUrl;
      download.download = name;
      line.append(download);
    }
    box.append(line);
    return box;
  }
}

function pastedName(type, index) {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const extension = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" }[type]
    || "bin";
  return `pasted-${stamp}${index ? "-" + index : ""}.${extension}`;
}
