// Structured editors of an event's limits and actions (limits-actions.md §2, §3): one card per entry
// with the fields of its type (durations and sizes with units, pickers for events and web hooks), an
// enabled box, move and remove buttons, and "Edit as JSON" for whatever the form does not cover.
// Each card edits its entry object in place, so keys the form does not know survive a save.
import { call } from "../api.js";
import { h, replace } from "../dom.js";
import { field } from "../components.js";
import { describeAction, describeLimit } from "./event_describe.js";
import { paramForm } from "./event_params.js";

const DURATION_UNITS = [["seconds", 1], ["minutes", 60], ["hours", 3600], ["days", 86400]];
const SIZE_UNITS = [["bytes", 1], ["KB", 1024], ["MB", 1048576], ["GB", 1073741824]];
const DAY_CONDITIONS = ["start", "complete", "continue", "success", "error", "user", "warning", "critical", "abort"];
const CONDITIONS = [
  ["start", "Start"], ["complete", "Complete (any result)"], ["success", "Success"], ["error", "Error (any failure)"],
  ["warning", "Warning"], ["critical", "Critical"], ["abort", "Abort"], ["user", "User error"],
  ["alert_new", "New alert"], ["alert_cleared", "Alert cleared"],
];

// sub-actions of the runtime limits (time, log, mem, cpu) when they fire
const WHEN_EXCEEDED = [
  { key: "abort", label: "Abort the job", kind: "bool" },
  { key: "email", label: "Email", kind: "text", hint: "comma-separated addresses" },
  { key: "web_hook", label: "Web hook", kind: "hook" },
  { key: "tags", label: "Add tags", kind: "csv", hint: "comma-separated tag IDs" },
];

const LIMITS = {
  time: { title: "Max run time", defaults: { duration: 3600, abort: true }, fields: [
    { key: "duration", label: "Longest run", kind: "duration", required: true, min: 1 }, ...WHEN_EXCEEDED] },
  job: { title: "Max concurrent jobs", defaults: { amount: 1 }, fields: [
    { key: "amount", label: "Jobs at once", kind: "count", required: true, min: 1 }] },
  queue: { title: "Max queued jobs", defaults: { amount: 10 }, fields: [
    { key: "amount", label: "Queued jobs", kind: "count", min: 0, hint: "0 turns queueing off; needs a concurrent-jobs limit" }] },
  retry: { title: "Retries", defaults: { amount: 2, duration: 60 }, fields: [
    { key: "amount", label: "Retries", kind: "count", min: 0 },
    { key: "duration", label: "Delay between tries", kind: "duration", min: 0 }] },
  log: { title: "Max log size", defaults: { amount: 10485760 }, fields: [
    { key: "amount", label: "Largest log", kind: "size", required: true, min: 1 }, ...WHEN_EXCEEDED] },
  mem: { title: "Max memory", defaults: { amount: 536870912, duration: 60 }, fields: [
    { key: "amount", label: "Memory", kind: "size", required: true, min: 1 },
    { key: "duration", label: "Sustained for", kind: "duration", min: 0 }, ...WHEN_EXCEEDED] },
  cpu: { title: "Max CPU", defaults: { amount: 100, duration: 60 }, fields: [
    { key: "amount", label: "CPU", kind: "count", required: true, min: 1, hint: "% of one core" },
    { key: "duration", label: "Sustained for", kind: "duration", min: 0 }, ...WHEN_EXCEEDED] },
  file: { title: "Input files", defaults: { amount: 5, size: 10485760 }, fields: [
    { key: "amount", label: "Most files", kind: "count", min: 0 },
    { key: "size", label: "Total size", kind: "size", min: 0 },
    { key: "accept", label: "Accepted extensions", kind: "text", hint: "e.g. .csv, .json" }] },
  day: { title: "Daily cap", defaults: { condition: "complete", amount: 10 }, fields: [
    { key: "condition", label: "Counted result", kind: "select", options: DAY_CONDITIONS.map((c) => [c, c]) },
    { key: "amount", label: "At most per day", kind: "count", min: 0 }] },
  tag: { title: "Max tags", defaults: { amount: 5 }, fields: [
    { key: "amount", label: "Most tags", kind: "count", min: 0 }] },
};

const ACTIONS = {
  email: { title: "Send email", defaults: { email: "" }, fields: [
    { key: "email", label: "Email addresses", kind: "text", hint: "comma-separated" },
    { key: "users", label: "Users", kind: "csv", hint: "comma-separated usernames" }] },
  web_hook: { title: "Call a web hook", defaults: { web_hook: "" }, fields: [
    { key: "web_hook", label: "Web hook", kind: "hook", required: true },
    { key: "text", label: "Extra text", kind: "text", hint: "appended to the message" }] },
  run_event: { title: "Run an event", defaults: { event_id: "" }, fields: [
    { key: "event_id", label: "Event", kind: "event" },
    { key: "start_delay", label: "Start delay", kind: "duration", min: 0, hint: "optional" }] },
  disable: { title: "Disable this event", defaults: {}, fields: [] },
  delete: { title: "Delete this event", defaults: {}, fields: [] },
  tag: { title: "Add tags", defaults: { tags: [] }, fields: [
    { key: "tags", label: "Tags", kind: "csv", keepEmpty: true, hint: "comma-separated tag IDs" }] },
  label: { title: "Set a label", defaults: { label: "" }, fields: [
    { key: "label", label: "Label", kind: "text", keepEmpty: true, hint: "{{ }} macros allowed" }] },
  suspend: { title: "Suspend the job", defaults: {}, fields: [
    { key: "email", label: "Email addresses", kind: "text", hint: "comma-separated" },
    { key: "users", label: "Users", kind: "csv", hint: "comma-separated usernames" },
    { key: "web_hook", label: "Web hook", kind: "hook" },
    { key: "text", label: "Extra text", kind: "text" }] },
  snapshot: { title: "Take a snapshot", defaults: {}, fields: [] },
  plugin: { title: "Run an action plugin", defaults: { plugin_id: "", params: {} }, fields: [
    { key: "plugin_id", label: "Action plugin", kind: "plugin" }], note: "Its parameters: use Edit as JSON (the params object)." },
  channel: { title: "Notify a channel", defaults: { channel_id: "" }, fields: [
    { key: "channel_id", label: "Channel ID", kind: "text", keepEmpty: true }] },
  store: { title: "Store in a bucket", defaults: { bucket_id: "", bucket_sync: "data" }, fields: [
    { key: "bucket_id", label: "Bucket ID", kind: "text", keepEmpty: true },
    { key: "bucket_sync", label: "What", kind: "select", options: [["data", "data"], ["files", "files"], ["data_and_files", "data and files"]] },
    { key: "bucket_glob", label: "File pattern", kind: "text", hint: "optional glob" }] },
  fetch: { title: "Fetch from a bucket", defaults: { bucket_id: "", bucket_sync: "data" }, fields: [
    { key: "bucket_id", label: "Bucket ID", kind: "text", keepEmpty: true },
    { key: "bucket_sync", label: "What", kind: "select", options: [["data", "data"], ["files", "files"], ["data_and_files", "data and files"]] },
    { key: "bucket_glob", label: "File pattern", kind: "text", hint: "optional glob" }] },
  ticket: { title: "Open a ticket", defaults: { ticket_type: "", ticket_assignees: [], ticket_tags: [] }, fields: [
    { key: "ticket_type", label: "Ticket type", kind: "text", keepEmpty: true },
    { key: "ticket_assignees", label: "Assignees", kind: "csv", keepEmpty: true, hint: "comma-separated usernames" },
    { key: "ticket_tags", label: "Ticket tags", kind: "csv", keepEmpty: true }] },
};

// API message (after "Malformed … entry #N: ") → the key of the control it is about; first match wins
const LIMIT_ERRORS = [[/condition/i, "condition"], [/timit|duration|delay/i, "duration"], [/file size/i, "size"],
  [/file type/i, "accept"], [/tag list/i, "tags"], [/user list/i, "users"], [/email/i, "email"], [/web hook id/i, "web_hook"],
  [/web hook text/i, "text"], [/.*/, "amount"]];
const ACTION_ERRORS = [[/condition/i, "condition"], [/email address|user list/i, "email"], [/web hook/i, "web_hook"],
  [/start delay/i, "start_delay"], [/event/i, "event_id"], [/tag/i, "tags"], [/label/i, "label"], [/plugin/i, "plugin_id"],
  [/channel/i, "channel_id"], [/bucket sync/i, "bucket_sync"], [/bucket glob/i, "bucket_glob"], [/bucket/i, "bucket_id"],
  [/ticket type/i, "ticket_type"], [/assignees/i, "ticket_assignees"], [/ticket tag/i, "ticket_tags"]];

// lists for the pickers, shared by every card of a page (kept a few seconds, so a new event shows up)
const lists = {};
function load(name) {
  const now = Date.now();
  if (!lists[name] || now - lists[name].at > 5000) lists[name] = { at: now, rows: call(name, {}).then((a) => a.rows || []).catch(() => []) };
  return lists[name].rows;
}

function splitUnits(value, units) {
  const n = Number(value);
  if (!Number.isFinite(n) || value === "" || value === undefined || value === null) return ["", units[0][0]];
  if (n === 0) return [0, units[0][0]];
  for (const [unit, size] of [...units].reverse()) if (n % size === 0) return [n / size, unit];
  return [n, units[0][0]];
}

let uniq = 0;

/**
 * The list editor of `kind` ("limits" or "actions") starting from `initial`. Returns {el, read, showError}:
 * read() gives the list to save or throws {name, message}; showError(text) puts an API message at its card.
 */
export function entryList(kind, initial, { readOnly = false } = {}) {
  const isLimit = kind === "limits";
  const types = isLimit ? LIMITS : ACTIONS;
  const noun = isLimit ? "limit" : "action";
  const describe = isLimit ? describeLimit : describeAction;
  const items = (Array.isArray(initial) ? initial : []).map((item) => (item && typeof item === "object" ? structuredClone(item) : item));
  const list = h("div.entry-list");
  const listError = h("div.field-error.entry-list-error", { "aria-live": "polite" });
  const cards = [];
  let jsonMode = false;

  const text = h("textarea.event-code", { name: kind, rows: 10, spellcheck: "false", "aria-label": `${isLimit ? "Limits" : "Actions"} as JSON` });
  const jsonBox = h("div.entry-json", { hidden: true }, h("p.muted.small", isLimit ? "A JSON list; times in seconds, sizes in bytes." : "A JSON list; see the actions reference for every field."), text);
  const toggle = h("button.btn.btn-small.btn-quiet", { type: "button", "aria-pressed": "false", onclick: () => setJson(!jsonMode) }, "Edit as JSON");

  function typeTitle(type) {
    return types[type] ? types[type].title : `${type || "unknown"} (other)`;
  }

  function fieldWrap(base, spec, control, extra = null) {
    return h("div.field.entry-field", { dataset: { field: `${base}.${spec.key}` } },
      h("label", { for: control.id }, spec.label, spec.hint ? h("span.hint", ` — ${spec.hint}`) : null),
      extra ? h("div.row.entry-units", control, extra) : control,
      h("div.field-error", { "aria-live": "polite" }));
  }

  function setInvalid(control, message) {
    const wrap = control.closest(".field");
    if (message) {
      control.dataset.invalid = message;
      control.setAttribute("aria-invalid", "true");
      wrap.classList.add("invalid");
      wrap.querySelector(".field-error").textContent = message;
    } else {
      delete control.dataset.invalid;
      control.removeAttribute("aria-invalid");
      wrap.classList.remove("invalid");
      wrap.querySelector(".field-error").textContent = "";
    }
  }

  /** A picker filled from a list endpoint; keeps the entry's current value even when it is not listed. */
  function picker(entry, spec, control, source, label, blank) {
    const fill = (rows) => {
      const options = rows.map((r) => [r.id, label(r)]);
      const current = entry[spec.key];
      if (current && !options.some(([v]) => v === current)) options.unshift([current, `${current} (not found)`]);
      replace(control, h("option", { value: "" }, blank), options.map(([v, t]) => h("option", { value: v }, t)));
      control.value = current || "";
    };
    fill([]);
    source.then(fill);
  }

  function control(entry, spec, base, changed) {
    const id = `entry-${++uniq}`;
    const name = `${base}.${spec.key}`;
    const setOrDrop = (value, empty) => {
      if (empty && !spec.keepEmpty) delete entry[spec.key];
      else entry[spec.key] = value;
      changed();
    };
    switch (spec.kind) {
      case "bool": {
        const box = h("input", { type: "checkbox", id, name });
        box.checked = Boolean(entry[spec.key]);
        box.addEventListener("change", () => {
          entry[spec.key] = box.checked;
          changed();
        });
        return h("div.field.entry-field.entry-check", { dataset: { field: name } }, h("label.check", { for: id }, box, spec.label), h("div.field-error", { "aria-live": "polite" }));
      }
      case "count":
      case "duration":
      case "size": {
        const units = spec.kind === "duration" ? DURATION_UNITS : spec.kind === "size" ? SIZE_UNITS : null;
        const [amount, unit] = units ? splitUnits(entry[spec.key], units) : [entry[spec.key] ?? "", null];
        const number = h("input", { type: "number", id, name, min: String(spec.min ?? 0), step: "any", inputmode: "decimal", value: amount, dataset: { key: spec.key } });
        const select = units ? h("select", { "aria-label": `${spec.label} unit`, dataset: { unitFor: spec.key } }, units.map(([u]) => h("option", { value: u }, u))) : null;
        if (select) select.value = unit;
        const update = () => {
          const raw = number.value.trim();
          const n = Number(raw);
          const size = select ? DURATION_UNITS.concat(SIZE_UNITS).find(([u]) => u === select.value)[1] : 1;
          if (raw === "" && number.validity.badInput) {
            setInvalid(number, `${spec.label}: write a number.`);
          } else if (raw === "") {
            setInvalid(number, spec.required ? `${spec.label}: a value is needed.` : "");
            delete entry[spec.key];
          } else if (!Number.isFinite(n)) {
            setInvalid(number, `${spec.label}: write a number.`);
          } else if (n < (spec.min ?? 0)) {
            setInvalid(number, `${spec.label} must be ${spec.min ?? 0} or more.`);
            entry[spec.key] = n * size;
          } else {
            setInvalid(number, "");
            entry[spec.key] = Math.round(n * size * 1000) / 1000;
            if (units) entry[spec.key] = Math.round(entry[spec.key]);
          }
          changed();
        };
        number.addEventListener("input", update);
        if (select) select.addEventListener("change", update);
        return fieldWrap(base, spec, number, select);
      }
      case "text":
      case "csv": {
        const value = entry[spec.key];
        const input = h("input", { type: "text", id, name, autocomplete: "off", dataset: { key: spec.key },
          value: Array.isArray(value) ? value.join(", ") : typeof value === "string" ? value : value == null ? "" : String(value) });
        input.addEventListener("input", () => {
          if (spec.kind === "csv") {
            const parts = input.value.split(",").map((s) => s.trim()).filter(Boolean);
            setOrDrop(parts, !parts.length);
          } else {
            setOrDrop(input.value.trim(), !input.value.trim());
          }
        });
        return fieldWrap(base, spec, input);
      }
      default: {
        const select = h("select", { id, name, dataset: { key: spec.key } });
        if (spec.kind === "select" || spec.kind === "condition") {
          const options = [...spec.options];
          const current = entry[spec.key];
          if (current && !options.some(([v]) => v === current)) options.push([current, current]);
          replace(select, options.map(([v, t]) => h("option", { value: v }, t)));
          select.value = current ?? options[0][0];
          if (current === undefined) entry[spec.key] = select.value;
          if (spec.kind === "condition") {
            load("get_tags").then((tags) => {
              const have = new Set([...select.options].map((o) => o.value));
              const extra = tags.filter((t) => !have.has(`tag:${t.id}`)).map((t) => h("option", { value: `tag:${t.id}` }, `Tagged ${t.title || t.id}`));
              if (extra.length) select.append(h("optgroup", { label: "When the job has the tag" }, extra));
              select.value = entry[spec.key];
            });
          }
        } else if (spec.kind === "event") {
          picker(entry, spec, select, load("get_events"), (e) => `${e.title || e.id} (${e.id})`, "Choose an event…");
        } else if (spec.kind === "hook") {
          picker(entry, spec, select, load("get_web_hooks"), (w) => `${w.title || w.id}${w.enabled === false ? " (disabled)" : ""}`, spec.required ? "Choose a web hook…" : "none");
        } else if (spec.kind === "plugin") {
          picker(entry, spec, select, load("get_plugins").then((rows) => rows.filter((p) => p.type === "action")), (p) => p.title || p.id, "Choose an action plugin…");
        }
        select.addEventListener("change", () => setOrDrop(select.value, !select.value && spec.kind !== "event" && !spec.required));
        return fieldWrap(base, spec, select);
      }
    }
  }

  function card(entry, index) {
    const base = `${kind}[${index}]`;
    const title = `${noun[0].toUpperCase()}${noun.slice(1)} ${index + 1}`;
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
      return { entry, el: h("section.entry-card", { dataset: { index: String(index) }, "aria-label": title },
        h("p", `${index + 1}. Not an object: `, h("code", JSON.stringify(entry))), h("p.muted.small", "Use Edit as JSON to fix it.")), reading: null };
    }
    const reading = h("p.entry-reading");
    const changed = () => {
      reading.textContent = describe(entry);
      el.classList.toggle("entry-disabled", !entry.enabled);
    };
    const typeSelect = h("select", { id: `entry-${++uniq}`, name: `${base}.type`, "aria-label": `Type of ${noun} ${index + 1}` },
      Object.entries(types).map(([v, t]) => h("option", { value: v }, t.title)));
    if (!types[entry.type]) typeSelect.append(h("option", { value: entry.type ?? "" }, typeTitle(entry.type)));
    typeSelect.value = entry.type ?? "";
    typeSelect.addEventListener("change", () => {
      const old = types[entry.type];
      const known = new Set(["type", ...(old ? old.fields.map((f) => f.key) : []), ...(old ? Object.keys(old.defaults) : [])]);
      for (const key of Object.keys(entry)) if (known.has(key)) delete entry[key];
      Object.assign(entry, { type: typeSelect.value }, structuredClone(types[typeSelect.value].defaults), { ...entry });
      entry.type = typeSelect.value;
      draw(index, `[name="${base}.type"]`);
    });
    const enabled = h("input", { type: "checkbox", name: `${base}.enabled` });
    enabled.checked = Boolean(entry.enabled);
    enabled.addEventListener("change", () => {
      entry.enabled = enabled.checked;
      changed();
    });
    const button = (label, aria, onclick, disabled = false) => h("button.btn.btn-small.btn-quiet", { type: "button", "aria-label": aria, disabled: disabled || readOnly, onclick }, label);
    const spec = types[entry.type];
    const fields = [];
    if (!isLimit) fields.push(control(entry, { key: "condition", label: "When", kind: "condition", options: CONDITIONS }, base, () => changed()));
    if (spec) for (const f of spec.fields) fields.push(control(entry, f, base, () => changed()));
    const el = h(`section.entry-card.entry-${entry.type || "other"}`, { dataset: { index: String(index), type: entry.type || "" }, "aria-label": `${title}: ${typeTitle(entry.type)}` },
      h("div.entry-head",
        h("h3", `${index + 1}.`),
        typeSelect,
        h("label.check", enabled, "Enabled"),
        h("span.spacer"),
        button("↑", `Move ${noun} ${index + 1} up`, () => move(index, -1), index === 0),
        button("↓", `Move ${noun} ${index + 1} down`, () => move(index, 1), index === items.length - 1),
        button("Remove", `Remove ${noun} ${index + 1}`, () => {
          items.splice(index, 1);
          draw(Math.min(index, items.length - 1), ".entry-head select");
        })),
      reading,
      fields.length ? h("div.entry-grid", fields) : null,
      spec ? (spec.note ? h("p.muted.small", spec.note) : null)
        : h("div", h("pre.event-raw", JSON.stringify(entry, null, 2)), h("p.muted.small", "The form does not know this type: use Edit as JSON to change it.")),
      h("div.field-error.entry-error", { "aria-live": "polite" }));
    changed();
    return { entry, el, reading };
  }

  function move(index, step) {
    const to = index + step;
    if (to < 0 || to >= items.length) return;
    [items[index], items[to]] = [items[to], items[index]];
    draw(to, `[aria-label^="Move ${noun} ${to + 1} ${step < 0 ? "up" : "down"}"]`);
  }

  /** Rebuild the cards; then focus `selector` inside card `focusIndex` (or its first control). */
  function draw(focusIndex = null, selector = null) {
    cards.splice(0, cards.length, ...items.map(card));
    replace(list, cards.length ? cards.map((c) => c.el)
      : h("p.muted.entry-none", isLimit ? "No limits: jobs may run as long and as many at once as they like. Add one below." : "No actions: nothing happens when a job starts or ends. Add one below, e.g. an email on error."));
    if (readOnly) for (const c of list.querySelectorAll("input, select, textarea, button")) c.disabled = true;
    if (focusIndex !== null && cards[focusIndex]) {
      const target = (selector && cards[focusIndex].el.querySelector(`${selector}:not([disabled])`)) || cards[focusIndex].el.querySelector("select, input");
      if (target) target.focus();
    } else if (focusIndex !== null && !cards.length) {
      kindSelect.focus();
    }
  }

  function parseJson() {
    let parsed;
    try {
      parsed = JSON.parse(text.value.trim() || "[]");
    } catch (error) {
      throw { name: kind, message: `${isLimit ? "Limits" : "Actions"}: this is not valid JSON (${error.message}).` };
    }
    if (!Array.isArray(parsed)) throw { name: kind, message: `${isLimit ? "Limits" : "Actions"}: write a list in square brackets, [ … ].` };
    return parsed;
  }

  function setJson(on) {
    listError.textContent = "";
    if (on) {
      text.value = JSON.stringify(items, null, 2);
    } else {
      let parsed;
      try {
        parsed = parseJson();
      } catch (problem) {
        listError.textContent = problem.message;
        text.focus();
        return;
      }
      items.splice(0, items.length, ...parsed);
      draw();
    }
    jsonMode = on;
    jsonBox.hidden = !on;
    formBox.hidden = on;
    toggle.textContent = on ? "Back to the form" : "Edit as JSON";
    toggle.setAttribute("aria-pressed", String(on));
    (on ? text : toggle).focus();
  }

  const kindSelect = h("select", { "aria-label": `Kind of ${noun} to add` }, Object.entries(types).map(([v, t]) => h("option", { value: v }, t.title)));
  const add = h("button.btn", { type: "button", onclick: () => {
    const entry = { type: kindSelect.value, enabled: true };
    if (!isLimit) entry.condition = kindSelect.value === "run_event" ? "success" : "error";
    Object.assign(entry, structuredClone(types[kindSelect.value].defaults));
    items.push(entry);
    draw(items.length - 1, ".entry-grid input:not([type=checkbox]), .entry-grid select");
  } }, isLimit ? "Add limit" : "Add action");
  const formBox = h("div.entry-form", list, h("div.row.entry-add", kindSelect, add));
  draw();

  const el = h("div.field.entry-editor", { dataset: { field: kind } },
    h("div.entry-top", h("h3.entry-title", isLimit ? "Limits" : "Actions"), toggle),
    listError, formBox, jsonBox);
  if (readOnly) for (const c of el.querySelectorAll("button")) c.disabled = true;

  function markCard(c, message, key) {
    c.el.classList.add("invalid");
    const target = key ? c.el.querySelector(`[name="${CSS.escape(`${kind}[${cards.indexOf(c)}].${key}`)}"]`) : null;
    if (target) {
      const wrap = target.closest(".field");
      wrap.classList.add("invalid");
      wrap.querySelector(".field-error").textContent = message;
      target.setAttribute("aria-invalid", "true");
      target.focus();
      return wrap;
    }
    c.el.querySelector(".entry-error").textContent = message;
    (c.el.querySelector("select, input") || c.el).focus();
    return c.el;
  }

  return {
    el,
    /** The list to save; throws {name, message} when an input is not valid. */
    read() {
      if (jsonMode) return parseJson();
      const bad = list.querySelector("[data-invalid]");
      if (bad) {
        bad.closest(".entry-card").classList.add("invalid");
        throw { name: bad.name, message: bad.dataset.invalid };
      }
      return items.map((item) => (item && typeof item === "object" ? structuredClone(item) : item));
    },
    /** Put an API error about this list at its card and field; returns the element or null. */
    showError(message) {
      for (const node of el.querySelectorAll(".entry-card.invalid")) node.classList.remove("invalid");
      const entry = message.match(new RegExp(`${noun} entry #(\\d+)`, "i"));
      const crossRule = isLimit && /Limit Configuration/i.test(message);
      if (!entry && !crossRule && !new RegExp(`parameter: ${kind}\\b`, "i").test(message)) return null;
      if (!jsonMode) {
        let target = entry ? cards[Number(entry[1]) - 1] : null;
        if (crossRule) target = cards.find((c) => c.entry && c.entry.type === "queue" && c.entry.enabled) || null;
        if (target && target.reading) {
          const detail = message.replace(/^.*?entry #\d+:?\s*/i, "");
          const rules = isLimit ? LIMIT_ERRORS : ACTION_ERRORS;
          const key = crossRule ? "amount" : (rules.find(([re, k]) => re.test(detail) && target.el.querySelector(`[name="${CSS.escape(`${kind}[${cards.indexOf(target)}].${k}`)}"]`)) || [])[1];
          return markCard(target, entry ? detail : message, key);
        }
      }
      el.classList.add("invalid");
      listError.textContent = message;
      (jsonMode ? text : toggle).focus();
      return el;
    },
  };
}

/**
 * The fields of a scheduler-plugin trigger (triggers.md: `plugin_id`, `params`, `timezone?`): a picker of
 * the plugins of type "scheduler", the chosen plugin's parameter form, and an optional time zone.
 */
export function pluginTriggerBody(trigger, changed) {
  const id = `entry-${++uniq}`;
  const select = h("select", { id, dataset: { key: "plugin_id" } });
  const zone = h("input", { type: "text", autocomplete: "off", list: "event-zones", placeholder: "server default", value: trigger.timezone || "", dataset: { key: "timezone" } });
  const paramsBox = h("div.entry-trigger-params");
  const values = { ...(trigger.params && typeof trigger.params === "object" ? trigger.params : {}) };
  let plugins = [];
  let form = null;
  if (!trigger.params || typeof trigger.params !== "object") trigger.params = {};

  function sync() {
    if (form) {
      try {
        trigger.params = form.read();
      } catch {
        // an unparsable JSON parameter keeps the last good value
      }
    }
    changed();
  }
  function build() {
    if (form) {
      try {
        Object.assign(values, form.read());
      } catch {
        // keep the values as they were
      }
    }
    const def = plugins.find((p) => p.id === select.value);
    form = def ? paramForm(def.params, values, { idPrefix: `${id}-param` }) : null;
    replace(paramsBox, form ? form.el : h("p.muted.small", plugins.length ? "Choose a scheduler plugin." : "No scheduler plugins are defined: add one under Admin, Plugins (type scheduler)."));
    sync();
  }
  function fill() {
    const options = plugins.map((p) => [p.id, `${p.title || p.id}${p.enabled === false ? " (disabled)" : ""}`]);
    if (trigger.plugin_id && !options.some(([v]) => v === trigger.plugin_id)) options.unshift([trigger.plugin_id, `${trigger.plugin_id} (not found)`]);
    replace(select, h("option", { value: "" }, "Choose a scheduler plugin…"), options.map(([v, t]) => h("option", { value: v }, t)));
    select.value = trigger.plugin_id || "";
  }
  select.addEventListener("change", () => {
    if (select.value) trigger.plugin_id = select.value;
    else delete trigger.plugin_id;
    build();
  });
  zone.addEventListener("input", () => {
    if (zone.value.trim()) trigger.timezone = zone.value.trim();
    else delete trigger.timezone;
    changed();
  });
  paramsBox.addEventListener("input", sync);
  paramsBox.addEventListener("change", sync);
  fill();
  load("get_plugins").then((rows) => {
    plugins = rows.filter((p) => p.type === "scheduler");
    fill();
    build();
  });
  return [
    h("div.trigger-grid", field("Scheduler plugin", select, "decides each scheduled run"), field("Plugin time zone", zone, "optional IANA name")),
    paramsBox,
  ];
}
