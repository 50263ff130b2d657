// The job log viewer: a window of the log (never the whole of a 50 MB log in the DOM), live text
// as it is printed, ANSI colours, follow/pause, search with highlights, "Load earlier".
import { call } from "../api.js";
import { h, debounce } from "../dom.js";
import { bytes as formatBytes } from "../format.js";
import { errorBox } from "../components.js";
import { AnsiRenderer } from "./job_ansi.js";
import { openStream } from "./job_sse.js";

/** How much of the log is fetched at a time, and the most the DOM holds. */
export const WINDOW_BYTES = 256 * 1024;
export const MAX_DOM_BYTES = 1024 * 1024;
const MERGE_BLOCK_BYTES = 64 * 1024;
const MAX_MATCHES = 5000;
const encoder = new TextEncoder();
const byteLength = (text) => encoder.encode(text).length;
const highlights = typeof CSS !== "undefined" && CSS.highlights && typeof Highlight !== "undefined";

export class LogViewer {
  /** job: the get_job record; token: its download token; onEnd(): the log stream saw the job end. */
  constructor(job, token, { onEnd = () => {} } = {}) {
    this.jobId = job.id;
    this.token = token;
    this.onEnd = onEnd;
    this.blocks = []; // [{el, start, end}] in log order
    this.start = 0; // byte offset of the first shown byte
    this.end = 0; // byte offset just past the last shown byte
    this.liveEnd = 0; // byte offset just past the last byte received
    this.domBytes = 0;
    this.detached = false; // earlier parts pushed the newest text out: live text is not shown
    this.follow = true;
    this.pending = [];
    this.jumping = null; // live text held while "Jump to latest" fetches the end
    this.flushTimer = null;
    this.stream = null;
    this.ended = false;
    this.renderer = new AnsiRenderer();
    this.matches = [];
    this.current = -1;
    this.build();
  }

  build() {
    this.earlier = h("button.btn.btn-small", { type: "button", onclick: () => this.loadEarlier() }, "Load earlier");
    this.latest = h("button.btn.btn-small", { type: "button", hidden: true, onclick: () => this.jumpToLatest() }, "Jump to latest");
    this.windowNote = h("span.muted.small.log-window-note", { "aria-live": "polite" });
    this.followButton = h("button.btn.btn-small", { type: "button", "aria-pressed": "true", onclick: () => this.setFollow(!this.follow) }, "Follow");
    this.searchInput = h("input", { type: "search", name: "log-search", placeholder: "Find in log", "aria-label": "Find in log", autocomplete: "off" });
    this.searchCount = h("span.muted.small.log-search-count", { "aria-live": "polite" });
    this.prevButton = h("button.btn.btn-small", { type: "button", "aria-label": "Previous match", onclick: () => this.step(-1) }, "↑");
    this.nextButton = h("button.btn.btn-small", { type: "button", "aria-label": "Next match", onclick: () => this.step(1) }, "↓");
    this.download = h("a.btn.btn-small", { href: `/api/app/download_job_log?id=${encodeURIComponent(this.jobId)}&t=${encodeURIComponent(this.token)}`, download: "" }, "Download");
    this.status = h("div.log-status.small.muted", { "aria-live": "polite" });
    this.body = h("div.log-body", { role: "region", "aria-label": "Job log text", tabindex: "0" });
    this.top = h("div.log-top", this.earlier);
    this.scroller = h("div.log-scroll", this.top, this.body, h("div.log-bottom", this.latest));
    this.scroller.addEventListener("scroll", () => this.onScroll(), { passive: true });
    const search = debounce(() => this.search(), 200);
    this.searchInput.addEventListener("input", search);
    this.searchInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        if (this.searchInput.value !== this.searchedFor) this.search();
        else this.step(event.shiftKey ? -1 : 1);
      } else if (event.key === "Escape") {
        this.searchInput.value = "";
        this.search();
      }
    });
    this.el = h("section.panel.log-panel", { "aria-label": "Log" },
      h("div.log-toolbar",
        h("h2", "Log"),
        h("div.row.log-tools", this.followButton,
          h("div.row.log-find", this.searchInput, this.prevButton, this.nextButton, this.searchCount),
          this.download)),
      this.windowNote,
      this.status,
      this.scroller);
    this.setFollow(true);
    this.updateChrome();
  }

  /** Start: the tail of the log, then live text until the job ends. */
  open() {
    this.status.textContent = "Loading the log…";
    this.stream = openStream("stream_job_log_tail", { id: this.jobId, bytes: WINDOW_BYTES }, {
      window: (win) => {
        // the backlog text that follows covers [start, end): receiving it moves liveEnd to `end`
        this.start = this.end = this.liveEnd = win.start;
        this.status.textContent = "";
        this.updateChrome();
      },
      log: (text) => this.receive(String(text)),
      end: () => {
        this.ended = true;
        this.flush();
        this.updateChrome();
        this.onEnd();
      },
    }, {
      onerror: (error) => this.status.replaceChildren(errorBox(error, "The log could not be loaded")),
      onclose: (ended) => {
        this.stream = null;
        if (!ended && !this.ended) {
          this.status.replaceChildren(h("span", "The live log stopped (connection lost). "),
            h("button.btn.btn-small", { type: "button", onclick: () => this.reopen() }, "Reconnect"));
        }
      },
    });
  }

  reopen() {
    this.close();
    for (const block of this.blocks) block.el.remove();
    this.blocks = [];
    this.domBytes = 0;
    this.renderer = new AnsiRenderer();
    this.detached = false;
    this.open();
  }

  close() {
    this.stream?.close();
    this.stream = null;
    clearTimeout(this.flushTimer);
  }

  /** Live text (its bytes follow liveEnd). */
  receive(text) {
    if (!text) return;
    const size = byteLength(text);
    this.liveEnd += size;
    if (this.jumping) {
      this.jumping.push(text); // after the window being fetched: shown once it is in
      return;
    }
    if (this.detached) return;
    this.pending.push({ text, size });
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), 40);
  }

  /** Show the pending live text (batched: one DOM change per ~40 ms whatever the job prints). */
  flush() {
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (!this.pending.length || this.detached) {
      this.pending = [];
      return;
    }
    let text = this.pending.map((p) => p.text).join("");
    let size = this.pending.reduce((sum, p) => sum + p.size, 0);
    this.pending = [];
    if (size > MAX_DOM_BYTES) {
      // a flood: show only its last window, from a line start
      let tail = text.slice(text.length - WINDOW_BYTES);
      const newline = tail.indexOf("\n");
      if (newline >= 0 && newline < tail.length - 1) tail = tail.slice(newline + 1);
      this.clearBlocks();
      this.start = this.end + size - byteLength(tail);
      this.end = this.start;
      text = tail;
      size = byteLength(tail);
      this.renderer = new AnsiRenderer();
    }
    const fragment = this.renderer.feed(text);
    const last = this.blocks[this.blocks.length - 1];
    if (last && last.end - last.start + size <= MERGE_BLOCK_BYTES && last.live) {
      last.el.append(fragment);
      last.end += size;
    } else {
      const el = h("span.log-chunk");
      el.append(fragment);
      this.body.append(el);
      this.blocks.push({ el, start: this.end, end: this.end + size, live: true });
    }
    this.end += size;
    this.domBytes += size;
    while (this.domBytes > MAX_DOM_BYTES && this.blocks.length > 1) {
      const first = this.blocks.shift();
      first.el.remove();
      this.domBytes -= first.end - first.start;
      this.start = this.blocks[0].start;
    }
    this.updateChrome();
    if (this.follow) this.scrollToEnd();
  }

  clearBlocks() {
    for (const block of this.blocks) block.el.remove();
    this.blocks = [];
    this.domBytes = 0;
  }

  /** Fetch the window before the first shown byte and put it on top (keeping the view still). */
  async loadEarlier() {
    if (this.start <= 0 || this.loading) return;
    this.loading = true;
    this.earlier.disabled = true;
    this.earlier.textContent = "Loading…";
    try {
      const range = await call("get_job_log_range", { id: this.jobId, before: this.start, bytes: WINDOW_BYTES });
      const el = h("span.log-chunk");
      el.append(new AnsiRenderer().feed(range.text));
      const size = range.end - range.start;
      const before = this.scroller.scrollHeight;
      const top = this.scroller.scrollTop;
      this.body.prepend(el);
      this.blocks.unshift({ el, start: range.start, end: range.end, live: false });
      this.start = range.start;
      this.domBytes += size;
      this.setFollow(false);
      this.scroller.scrollTop = top + (this.scroller.scrollHeight - before);
      // too much in the DOM: the newest text goes; it comes back with "Jump to latest"
      while (this.domBytes > MAX_DOM_BYTES && this.blocks.length > 1) {
        const last = this.blocks.pop();
        last.el.remove();
        this.domBytes -= last.end - last.start;
        this.end = this.blocks[this.blocks.length - 1].end;
        this.detached = true;
        this.pending = [];
      }
    } catch (error) {
      this.status.replaceChildren(errorBox(error, "The earlier part of the log could not be loaded"));
    } finally {
      this.loading = false;
      this.earlier.disabled = false;
      this.earlier.textContent = "Load earlier";
      this.updateChrome();
      if (this.searchInput.value) this.search({ keepPlace: true });
    }
  }

  /** Back to the newest text after earlier parts pushed it out. */
  async jumpToLatest() {
    const until = this.liveEnd;
    this.latest.disabled = true;
    this.jumping = [];
    try {
      const range = await call("get_job_log_range", { id: this.jobId, before: until, bytes: WINDOW_BYTES });
      this.clearBlocks();
      this.renderer = new AnsiRenderer();
      this.start = this.end = range.start;
      this.detached = false;
      const el = h("span.log-chunk");
      el.append(this.renderer.feed(range.text));
      this.body.append(el);
      const size = range.end - range.start;
      this.blocks.push({ el, start: range.start, end: range.end, live: false });
      this.end = range.end;
      this.domBytes = size;
      const arrived = this.jumping;
      this.jumping = null;
      for (const text of arrived) this.pending.push({ text, size: byteLength(text) });
      this.flush();
      this.setFollow(true);
      if (this.searchInput.value) this.search({ keepPlace: true });
    } catch (error) {
      this.status.replaceChildren(errorBox(error, "The end of the log could not be loaded"));
    } finally {
      this.jumping = null;
      this.latest.disabled = false;
      this.updateChrome();
    }
  }

  updateChrome() {
    this.earlier.hidden = this.start <= 0;
    this.latest.hidden = !this.detached;
    const shown = this.end - this.start;
    const total = Math.max(this.liveEnd, this.end);
    if (this.start > 0 || this.detached) {
      this.windowNote.textContent = `Showing ${formatBytes(shown)} of ${formatBytes(total)} (from byte ${this.start.toLocaleString()}).`;
    } else {
      this.windowNote.textContent = "";
    }
    this.top.hidden = this.earlier.hidden;
    this.followButton.hidden = this.ended;
    if (!this.blocks.length && this.ended && !this.status.textContent) {
      this.body.dataset.empty = "true";
    } else {
      delete this.body.dataset.empty;
    }
  }

  setFollow(on) {
    this.follow = on;
    this.followButton.setAttribute("aria-pressed", String(on));
    this.followButton.textContent = on ? "Following" : "Follow";
    this.followButton.title = on ? "Click to pause auto-scrolling" : "Scroll to the end and keep following new lines";
    if (on) {
      if (this.detached) this.jumpToLatest();
      else this.scrollToEnd();
    }
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  onScroll() {
    const atEnd = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 8;
    if (this.follow && !atEnd) this.setFollow(false);
    else if (!this.follow && atEnd && !this.detached && !this.ended) this.setFollow(true);
  }

  /** Highlight every match of the search text in the shown part of the log. */
  search({ keepPlace = false } = {}) {
    const needle = this.searchInput.value;
    this.searchedFor = needle;
    this.matches = [];
    this.current = -1;
    if (highlights) {
      CSS.highlights.delete("log-match");
      CSS.highlights.delete("log-current");
    }
    if (!needle) {
      this.searchCount.textContent = "";
      return;
    }
    const lower = needle.toLowerCase();
    const walker = document.createTreeWalker(this.body, NodeFilter.SHOW_TEXT);
    let node;
    let capped = false;
    while ((node = walker.nextNode()) && !capped) {
      const text = node.data.toLowerCase();
      let at = text.indexOf(lower);
      while (at >= 0) {
        const range = new Range();
        range.setStart(node, at);
        range.setEnd(node, at + needle.length);
        this.matches.push(range);
        if (this.matches.length >= MAX_MATCHES) {
          capped = true;
          break;
        }
        at = text.indexOf(lower, at + needle.length);
      }
    }
    if (highlights && this.matches.length) CSS.highlights.set("log-match", new Highlight(...this.matches));
    if (!this.matches.length) {
      this.searchCount.textContent = "No matches in the shown part";
      return;
    }
    this.capped = capped;
    if (!keepPlace) this.setFollow(false);
    this.step(keepPlace ? 0 : 1, { fromEnd: !keepPlace });
  }

  /** Go to the next (1) or previous (-1) match. */
  step(direction, { fromEnd = false } = {}) {
    if (this.searchInput.value !== this.searchedFor) this.search();
    if (!this.matches.length) return;
    if (fromEnd) this.current = this.matches.length - 1; // the newest match first
    else if (direction === 0) this.current = Math.max(0, Math.min(this.current, this.matches.length - 1));
    else this.current = (this.current + direction + this.matches.length) % this.matches.length;
    const range = this.matches[this.current];
    if (highlights) CSS.highlights.set("log-current", new Highlight(range));
    this.searchCount.textContent = `${this.current + 1} of ${this.matches.length}${this.capped ? "+" : ""}`;
    this.setFollow(false);
    const box = range.getBoundingClientRect();
    const outer = this.scroller.getBoundingClientRect();
    if (box.top < outer.top + 30 || box.bottom > outer.bottom - 10) {
      this.scroller.scrollTop += box.top - outer.top - this.scroller.clientHeight / 3;
    }
  }
}
