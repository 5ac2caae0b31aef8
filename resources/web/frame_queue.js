/* Frames from the server are handled in slices of a few milliseconds, with a yield to the
   browser between slices: a host that sends 100,000 messages or names at once cannot hold
   the page's main thread (docs/protocol.md, "What a guest accepts"). */

/** Time one slice may take before the rest waits for the next task. */
export const SLICE_MS = 8;

export class FrameQueue {
  /** handle(frame) handles one frame, or returns false when it did a slice's worth of it
      (it is then handed again in the next slice); startSlice() and endSlice() bracket each
      slice, so the page lays out and scrolls once per slice instead of once per message. */
  constructor({ handle, startSlice, endSlice }) {
    this.handlers = { handle, startSlice, endSlice };
    this.frames = [];
    this.next = 0;          // index of the next frame to handle
    this.scheduled = false;
    // A message-channel task yields to rendering and input without the 4 ms timer clamp.
    this.channel = new MessageChannel();
    this.channel.port1.onmessage = () => this.run();
  }

  push(frame) {
    this.frames.push(frame);
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    this.channel.port2.postMessage(null);
  }

  /** Forget frames not handled yet (their socket is gone; a rejoin asks again). */
  clear() {
    this.frames = [];
    this.next = 0;
  }

  /** The frames waiting behind the one being handled, oldest first (do not modify). */
  *waiting() {
    for (let index = this.next; index < this.frames.length; index += 1) yield this.frames[index];
  }

  run() {
    this.scheduled = false;
    if (this.next >= this.frames.length) return;
    const deadline = performance.now() + SLICE_MS;
    this.handlers.startSlice();
    try {
      while (this.next < this.frames.length && performance.now() < deadline) {
        const frame = this.frames[this.next];
        this.frames[this.next] = null;
        this.next += 1;
        if (this.handlers.handle(frame) === false && this.next > 0) {
          this.next -= 1;  // again, first, in the next slice
          this.frames[this.next] = frame;
          break;
        }
      }
    } finally {
      this.handlers.endSlice();
      if (this.next >= this.frames.length) this.clear();
      else if (this.next > 4096) {
        this.frames.splice(0, this.next);
        this.next = 0;
      }
      if (this.next < this.frames.length) this.schedule();
    }
  }
}
