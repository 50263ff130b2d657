// Keyboard triggers (triggers.md `keyboard`): a shortcut pressed anywhere in the UI runs the event
// whose enabled keyboard trigger lists it (run_event, as the Run button does: the event needs a
// manual trigger too).
import { call } from "./api.js";
import { toast } from "./components.js";

const MODIFIERS = [["ctrlKey", "Control"], ["altKey", "Alt"], ["shiftKey", "Shift"], ["metaKey", "Meta"]];
const REFRESH_MS = 60_000;
const FIRST_LOAD_MS = 3_000;

/** "Control+Shift+KeyR": the modifiers held, then the key's code (the same on every layout). */
export function shortcutOf(event) {
  return [...MODIFIERS.filter(([flag]) => event[flag]).map(([, name]) => name), event.code].join("+");
}

function normalize(text) {
  const parts = String(text).split("+").map((p) => p.trim()).filter(Boolean);
  const key = parts.pop() || "";
  const held = new Set(parts.map((p) => p.toLowerCase()));
  return [...MODIFIERS.filter(([, name]) => held.has(name.toLowerCase())).map(([, name]) => name), key].join("+");
}

/** Listen for the shortcuts of every event the user may run; returns a function that stops it. */
export function watchShortcuts({ can, navigate }) {
  let table = new Map();
  let loaded = 0;
  let loading = null;

  async function load() {
    try {
      const answer = await call("get_events");
      const next = new Map();
      for (const event of answer.rows || []) {
        if (!event.enabled) continue;
        for (const trigger of event.triggers || []) {
          if (trigger.type !== "keyboard" || !trigger.enabled) continue;
          for (const keys of trigger.keys || []) next.set(normalize(keys), { event, watch: Boolean(trigger.watch) });
        }
      }
      table = next;
      loaded = Date.now();
    } catch {
      // a failed look-up leaves the old table: shortcuts are a convenience
    } finally {
      loading = null;
    }
  }

  async function onKey(event) {
    if (event.repeat || ["Control", "Shift", "Alt", "Meta"].includes(event.key)) return;
    const target = event.target;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    if (!event.ctrlKey && !event.altKey && !event.metaKey && !/^F\d+$/.test(event.code)) return; // plain typing
    if (Date.now() - loaded > REFRESH_MS && !loading) loading = load(); // for the next press
    const found = table.get(shortcutOf(event));
    if (!found || !can("run_jobs")) return;
    event.preventDefault(); // at once: a shortcut may also be the browser's own
    event.stopPropagation();
    try {
      const started = await call("run_event", { id: found.event.id });
      toast(`Started "${found.event.title}" (${shortcutOf(event)}).`, "ok");
      if (found.watch && started.id) navigate(`/job/${started.id}`);
    } catch (error) {
      toast(`"${found.event.title}" could not be started: ${error.description || error}`, "err");
    }
  }

  const reload = () => {
    if (!loading) loading = load();
  };
  // read once the first page is on screen: the event list can be large (10,000 events: 5 MB)
  const first = setTimeout(() => {
    if (!loading) loading = load();
  }, FIRST_LOAD_MS);
  window.addEventListener("keydown", onKey);
  window.addEventListener("cronwright:shortcuts", reload);
  return () => {
    clearTimeout(first);
    window.removeEventListener("keydown", onKey);
    window.removeEventListener("cronwright:shortcuts", reload);
  };
}

/** Re-read the shortcuts after an event was saved. */
export function shortcutsChanged() {
  window.dispatchEvent(new Event("cronwright:shortcuts"));
}
