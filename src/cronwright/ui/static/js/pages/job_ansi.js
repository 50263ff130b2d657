// ANSI colours in job logs: a small SGR parser that turns text into spans with classes (never
// innerHTML). Stateful: a style or an escape sequence cut between two chunks carries over.

const ESC = "\u001b";

function plain() {
  return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, strike: false, inverse: false };
}

/** The 256-colour palette entry n (16..255) as an rgb() string (0..15 use classes). */
function palette(n) {
  if (n >= 232) {
    const level = 8 + (n - 232) * 10;
    return `rgb(${level}, ${level}, ${level})`;
  }
  const i = n - 16;
  const steps = [0, 95, 135, 175, 215, 255];
  return `rgb(${steps[Math.floor(i / 36)]}, ${steps[Math.floor(i / 6) % 6]}, ${steps[i % 6]})`;
}

export class AnsiRenderer {
  constructor() {
    this.state = plain();
    this.rest = ""; // an escape sequence cut at the end of the last chunk
  }

  /** Parse `text` and return a DocumentFragment of text nodes and styled spans. */
  feed(text) {
    const fragment = document.createDocumentFragment();
    let input = this.rest + text;
    this.rest = "";
    let run = "";
    const flush = () => {
      if (run) fragment.append(this.node(run));
      run = "";
    };
    let i = 0;
    let next = -2; // positions of the next ESC and "\r" (-1: none left), found again only once passed
    let cr = -2;
    while (i < input.length) {
      if (next !== -1 && next < i) next = input.indexOf(ESC, i);
      if (cr !== -1 && cr < i) cr = input.indexOf("\r", i);
      const stop = Math.min(next < 0 ? input.length : next, cr < 0 ? input.length : cr);
      run += input.slice(i, stop);
      i = stop;
      if (i >= input.length) break;
      if (input[i] === "\r") {
        // "\r\n" is a line end; a lone "\r" (a progress meter redrawing) starts a new line
        if (i + 1 >= input.length) {
          this.rest = "\r";
          i += 1;
          break;
        }
        if (input[i + 1] !== "\n") run += "\n";
        i += 1;
        continue;
      }
      const end = sequenceEnd(input, i);
      if (end < 0) {
        // incomplete: keep it for the next chunk (unless it is implausibly long)
        if (input.length - i < 64) this.rest = input.slice(i);
        break;
      }
      const sequence = input.slice(i, end);
      i = end;
      if (sequence[1] === "[" && sequence.endsWith("m")) {
        flush(); // the text so far has the style before this sequence
        this.apply(sequence.slice(2, -1));
      }
      // any other escape sequence (cursor moves, titles) is dropped
    }
    flush();
    return fragment;
  }

  /** A text node, or a span with the classes (and CSSOM colours) of the current style. */
  node(text) {
    const s = this.state;
    let fg = s.fg;
    let bg = s.bg;
    if (s.inverse) [fg, bg] = [bg ?? "default-bg", fg ?? "default-fg"];
    const classes = [];
    const style = {};
    if (fg !== null) {
      if (typeof fg === "number") classes.push(`ansi-fg-${fg}`);
      else if (fg === "default-bg") classes.push("ansi-fg-reverse");
      else style.color = fg;
    }
    if (bg !== null) {
      if (typeof bg === "number") classes.push(`ansi-bg-${bg}`);
      else if (bg === "default-fg") classes.push("ansi-bg-reverse");
      else style.backgroundColor = bg;
    }
    if (s.bold) classes.push("ansi-bold");
    if (s.dim) classes.push("ansi-dim");
    if (s.italic) classes.push("ansi-italic");
    if (s.underline) classes.push("ansi-underline");
    if (s.strike) classes.push("ansi-strike");
    if (!classes.length && !style.color && !style.backgroundColor) return document.createTextNode(text);
    const span = document.createElement("span");
    if (classes.length) span.className = classes.join(" ");
    if (style.color) span.style.color = style.color;
    if (style.backgroundColor) span.style.backgroundColor = style.backgroundColor;
    span.textContent = text;
    return span;
  }

  /** Apply the parameters of one SGR sequence ("1;31", "38;5;208", "" = reset). */
  apply(params) {
    const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
    const s = this.state;
    for (let k = 0; k < codes.length; k += 1) {
      const code = codes[k];
      if (!Number.isFinite(code)) continue;
      if (code === 0) Object.assign(s, plain());
      else if (code === 1) s.bold = true;
      else if (code === 2) s.dim = true;
      else if (code === 3) s.italic = true;
      else if (code === 4) s.underline = true;
      else if (code === 7) s.inverse = true;
      else if (code === 9) s.strike = true;
      else if (code === 21 || code === 22) { s.bold = false; s.dim = false; }
      else if (code === 23) s.italic = false;
      else if (code === 24) s.underline = false;
      else if (code === 27) s.inverse = false;
      else if (code === 29) s.strike = false;
      else if (code >= 30 && code <= 37) s.fg = code - 30;
      else if (code === 39) s.fg = null;
      else if (code >= 40 && code <= 47) s.bg = code - 40;
      else if (code === 49) s.bg = null;
      else if (code >= 90 && code <= 97) s.fg = code - 90 + 8;
      else if (code >= 100 && code <= 107) s.bg = code - 100 + 8;
      else if (code === 38 || code === 48) {
        let colour = null;
        if (codes[k + 1] === 5 && k + 2 < codes.length) {
          const n = codes[k + 2];
          colour = n >= 0 && n < 16 ? n : n >= 16 && n < 256 ? palette(n) : null;
          k += 2;
        } else if (codes[k + 1] === 2 && k + 4 < codes.length) {
          const [r, g, b] = codes.slice(k + 2, k + 5).map((v) => Math.max(0, Math.min(255, v | 0)));
          colour = `rgb(${r}, ${g}, ${b})`;
          k += 4;
        }
        if (code === 38) s.fg = colour;
        else s.bg = colour;
      }
    }
  }
}

/** Index just past the escape sequence starting at `i`, or -1 when it is cut off. */
function sequenceEnd(input, i) {
  if (i + 1 >= input.length) return -1;
  const kind = input[i + 1];
  if (kind === "[") {
    for (let j = i + 2; j < input.length; j += 1) {
      const c = input.charCodeAt(j);
      if (c >= 0x40 && c <= 0x7e) return j + 1;
      if (j - i > 64) return j; // not a real sequence: give up on it
    }
    return -1;
  }
  if (kind === "]") {
    for (let j = i + 2; j < input.length; j += 1) {
      if (input[j] === "\u0007") return j + 1;
      if (input[j] === ESC && input[j + 1] === "\\") return j + 2;
      if (j - i > 512) return j;
    }
    return -1;
  }
  return i + 2; // a two-character escape
}

/** Text without escape sequences (for searching or copying). */
export function stripAnsi(text) {
  return text.replace(/\u001b\[[0-9;:?]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b./g, "");
}
