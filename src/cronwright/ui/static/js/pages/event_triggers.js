// The triggers of an event (triggers.md): one card per trigger with its fields and a human reading,
// and the live forecast of the next runs (preview_event_forecast, before anything is saved).
import { call } from "../api.js";
import { shortcutOf } from "../shortcuts.js";
import { h, replace, debounce } from "../dom.js";
import { time, relative } from "../format.js";
import { errorBox } from "../components.js";
import { pluginTriggerBody } from "./event_limits.js";
import {
  MONTHS, TRIGGER_TYPES, WEEKDAY_SHORT, describeTrigger, formatList, parseList, triggerTitle,
} from "./event_describe.js";

const UNITS = [["seconds", 1], ["minutes", 60], ["hours", 3600], ["days", 86400]];
let zoneList = null;

function zones() {
  if (!zoneList) {
    zoneList = h("datalist", { id: "event-zones" },
      (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : []).map((z) => h("option", { value: z })));
    document.body.append(zoneList);
  }
  return zoneList.id;
}

function localInput(epoch) {
  if (!epoch) return "";
  const d = new Date(Number(epoch) * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function epochOf(text) {
  if (!text) return undefined;
  const ms = new Date(text).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

function splitDuration(seconds) {
  const s = Number(seconds) || 0;
  for (const [unit, size] of [...UNITS].reverse()) if (s && s % size === 0) return [s / size, unit];
  return [s || "", "seconds"];
}

let uniq = 0;

/** The trigger list editor. `onChange()` is called (debounced by the caller) after every edit. */
export function triggerEditor(initial, { defaultTz = "", onChange = () => {} } = {}) {
  const triggers = (Array.isArray(initial) ? initial : []).map((t) => (t && typeof t === "object" ? { ...t } : t));
  const list = h("div.trigger-list");
  const errors = h("div.field-error.trigger-list-error", { "aria-live": "polite" });
  const cards = [];

  function changed() {
    refreshReadings();
    onChange();
  }

  function labelled(label, control, hint = "") {
    const id = control.id || `tr-${++uniq}`;
    control.id = id;
    return h("div.field.trigger-field",
      h("label", { for: id }, label, hint ? h("span.hint", ` — ${hint}`) : null),
      control,
      h("div.field-error", { id: `${id}-error`, "aria-live": "polite" }));
  }

  function listInput(trigger, key, label, { min, max, hint, placeholder = "any" }) {
    const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", placeholder, dataset: { key } });
    input.value = formatList(trigger[key]);
    const wrap = labelled(label, input, hint);
    input.addEventListener("input", () => {
      const error = wrap.querySelector(".field-error");
      try {
        const parsed = parseList(input.value, { min, max, what: label.toLowerCase() });
        if (parsed.length) trigger[key] = parsed;
        else delete trigger[key];
        error.textContent = "";
        wrap.classList.remove("invalid");
        input.removeAttribute("aria-invalid");
        delete input.dataset.invalid;
      } catch (problem) {
        error.textContent = problem.message;
        wrap.classList.add("invalid");
        input.setAttribute("aria-invalid", "true");
        input.dataset.invalid = problem.message;
      }
      changed();
    });
    return wrap;
  }

  function checkGroup(trigger, key, label, names, offset) {
    const inputs = names.map((name, i) => {
      const box = h("input", { type: "checkbox", value: String(i + offset), dataset: { key } });
      box.checked = Array.isArray(trigger[key]) && trigger[key].includes(i + offset);
      return box;
    });
    for (const box of inputs) {
      box.addEventListener("change", () => {
        const picked = inputs.filter((b) => b.checked).map((b) => Number(b.value));
        if (picked.length) trigger[key] = picked;
        else delete trigger[key];
        changed();
      });
    }
    return h("fieldset.trigger-checks", h("legend", label, h("span.hint", " — none ticked means any")),
      inputs.map((box, i) => h("label.check.trigger-chip", box, names[i])));
  }

  function durationInput(trigger, key, label) {
    const [amount, unit] = splitDuration(trigger[key]);
    const number = h("input", { type: "number", min: "1", step: "1", value: amount, "aria-label": `${label} (amount)` });
    const units = h("select", { "aria-label": `${label} (unit)` }, UNITS.map(([u]) => h("option", { value: u }, u)));
    units.value = unit;
    const update = () => {
      const size = UNITS.find(([u]) => u === units.value)[1];
      const n = Number(number.value);
      if (number.value === "" || !Number.isFinite(n)) delete trigger[key];
      else trigger[key] = Math.round(n * size);
      changed();
    };
    number.addEventListener("input", update);
    units.addEventListener("change", update);
    return h("div.field.trigger-field", h("span.trigger-label", label), h("div.row", number, units),
      h("div.field-error", { "aria-live": "polite" }));
  }

  function dateInput(trigger, key, label, hint = "") {
    const input = h("input", { type: "datetime-local", value: localInput(trigger[key]) });
    input.addEventListener("input", () => {
      const epoch = epochOf(input.value);
      if (epoch === undefined) delete trigger[key];
      else trigger[key] = epoch;
      changed();
    });
    return labelled(label, input, hint || "your local time");
  }

  function body(trigger) {
    switch (trigger.type) {
      case "schedule": {
        const zone = h("input", { type: "text", list: zones(), autocomplete: "off", placeholder: defaultTz ? `server default (${defaultTz})` : "server default", value: trigger.timezone || "" });
        zone.addEventListener("input", () => {
          if (zone.value.trim()) trigger.timezone = zone.value.trim();
          else delete trigger.timezone;
          changed();
        });
        const skipped = h("select", {}, h("option", { value: "" }, "skip them (default)"), h("option", { value: "run" }, "run at the moment clocks jump"));
        skipped.value = trigger.dst_skipped === "run" ? "run" : "";
        skipped.addEventListener("change", () => {
          if (skipped.value) trigger.dst_skipped = skipped.value;
          else delete trigger.dst_skipped;
          changed();
        });
        const repeated = h("select", {}, h("option", { value: "" }, "run twice (default)"), h("option", { value: "once" }, "run once"));
        repeated.value = trigger.dst_repeated === "once" ? "once" : "";
        repeated.addEventListener("change", () => {
          if (repeated.value) trigger.dst_repeated = repeated.value;
          else delete trigger.dst_repeated;
          changed();
        });
        return [
          h("div.trigger-grid",
            listInput(trigger, "minutes", "Minutes", { min: 0, max: 59, hint: "0–59, e.g. 0, 30" }),
            listInput(trigger, "hours", "Hours", { min: 0, max: 23, hint: "0–23, e.g. 9 or 8-18" }),
            listInput(trigger, "days", "Days of the month", { min: -7, max: 31, hint: "1–31; -1 is the last day" }),
            listInput(trigger, "years", "Years", { min: 1, max: 9999, hint: "e.g. 2027" })),
          checkGroup(trigger, "weekdays", "Weekdays", WEEKDAY_SHORT, 0),
          checkGroup(trigger, "months", "Months", MONTHS.map((m) => m.slice(0, 3)), 1),
          h("div.trigger-grid",
            labelled("Time zone", zone, "IANA name, e.g. Europe/Berlin"),
            labelled("Local times skipped by DST", skipped),
            labelled("Local times repeated by DST", repeated)),
        ];
      }
      case "interval":
        return h("div.trigger-grid", dateInput(trigger, "start", "Starting"), durationInput(trigger, "duration", "Every"));
      case "single":
        return h("div.trigger-grid", dateInput(trigger, "epoch", "Date and time"));
      case "range":
        return h("div.trigger-grid", dateInput(trigger, "start", "From", "optional, your local time"), dateInput(trigger, "end", "Until", "optional, your local time"));
      case "blackout":
        return h("div.trigger-grid", dateInput(trigger, "start", "From"), dateInput(trigger, "end", "Until"));
      case "delay":
        return h("div.trigger-grid", durationInput(trigger, "duration", "Wait"));
      case "precision":
        return h("div.trigger-grid", listInput(trigger, "seconds", "Seconds", { min: 0, max: 59, hint: "0–59, e.g. 0, 30", placeholder: "" }));
      case "nth": {
        const every = h("input", { type: "number", min: "2", step: "1", value: trigger.every ?? 2 });
        every.addEventListener("input", () => {
          trigger.every = Number(every.value);
          changed();
        });
        if (trigger.every === undefined) trigger.every = 2;
        return h("div.trigger-grid", labelled("Every", every, "2 or more"));
      }
      case "quiet": {
        const boxes = [["invisible", "Hide the jobs from lists"], ["ephemeral", "Do not keep the job records when they succeed"]].map(([key, text]) => {
          const box = h("input", { type: "checkbox" });
          box.checked = Boolean(trigger[key]);
          box.addEventListener("change", () => {
            trigger[key] = box.checked;
            changed();
          });
          return h("label.check", box, text);
        });
        return h("div.stack", boxes);
      }
      case "magic": {
        const key = h("input", { type: "text", autocomplete: "off", placeholder: trigger.token ? "keep the current link" : "letters, digits, - and _", value: trigger.key || "" });
        const link = h("p.small.muted.trigger-link");
        const showLink = () => {
          const k = key.value.trim();
          link.textContent = k ? `Link after saving: ${location.origin}/api/app/form/v1/${k}` : trigger.token ? "A link is set (its key is not stored, so it cannot be shown). Enter a new key to replace it." : "Enter a secret key: the link is made from it.";
        };
        key.addEventListener("input", () => {
          if (key.value.trim()) trigger.key = key.value.trim();
          else delete trigger.key;
          showLink();
          changed();
        });
        showLink();
        return [labelled("Secret key", key, "write-only"), link];
      }
      case "keyboard": {
        // shortcuts as the browser names keys: modifiers, then the key's code ("Control+Shift+KeyR")
        const keys = h("input", { type: "text", autocomplete: "off", placeholder: "e.g. Control+Shift+KeyR", value: (trigger.keys || []).join(", ") });
        keys.addEventListener("input", () => {
          trigger.keys = keys.value.split(",").map((k) => k.trim()).filter(Boolean);
          changed();
        });
        const record = h("button.btn.btn-small", { type: "button" }, "Record a shortcut");
        record.addEventListener("click", () => {
          record.textContent = "Press the keys…";
          const take = (event) => {
            if (["Control", "Shift", "Alt", "Meta"].includes(event.key)) return;
            event.preventDefault();
            window.removeEventListener("keydown", take, true);
            const combo = shortcutOf(event);
            trigger.keys = [...new Set([...(trigger.keys || []), combo])];
            keys.value = trigger.keys.join(", ");
            record.textContent = "Record a shortcut";
            changed();
          };
          window.addEventListener("keydown", take, true);
        });
        const watch = h("input", { type: "checkbox" });
        watch.checked = Boolean(trigger.watch);
        watch.addEventListener("change", () => {
          trigger.watch = watch.checked;
          changed();
        });
        return h("div.stack", labelled("Shortcuts", keys, "comma-separated, each with Control, Alt or Meta (or a function key); they work on every page of this UI and run the event as Run now does (it needs a Manual trigger too)"), record,
          h("label.check", watch, "Open the job's page when it starts"));
      }
      case "plugin":
        return pluginTriggerBody(trigger, changed);
      case "manual":
      case "catchup":
      case "startup":
        return null;
      default:
        return h("pre.event-raw", JSON.stringify(trigger, null, 2));
    }
  }

  function card(trigger, index) {
    const reading = h("p.trigger-reading");
    const enabled = h("input", { type: "checkbox", "aria-label": `Trigger ${index + 1} enabled` });
    enabled.checked = Boolean(trigger.enabled);
    enabled.addEventListener("change", () => {
      trigger.enabled = enabled.checked;
      changed();
    });
    const remove = h("button.btn.btn-small.btn-quiet", { type: "button", "aria-label": `Remove trigger ${index + 1} (${triggerTitle(trigger.type)})`, onclick: () => {
      triggers.splice(index, 1);
      draw();
      changed();
    } }, "Remove");
    const el = h(`section.trigger-card.trigger-${trigger.type || "other"}`, { dataset: { index: String(index), type: trigger.type || "" }, "aria-label": `Trigger ${index + 1}: ${triggerTitle(trigger.type)}` },
      h("div.trigger-head",
        h("h3", `${index + 1}. ${triggerTitle(trigger.type)}`),
        h("label.check", enabled, "Enabled"),
        h("span.spacer"),
        remove),
      reading,
      body(trigger),
      h("div.field-error.trigger-error", { "aria-live": "polite" }));
    return { el, trigger, reading };
  }

  function refreshReadings() {
    for (const c of cards) {
      c.reading.textContent = describeTrigger(c.trigger, defaultTz);
      c.el.classList.toggle("trigger-disabled", !c.trigger.enabled);
    }
  }

  function draw() {
    cards.splice(0, cards.length, ...triggers.map(card));
    replace(list, cards.length ? cards.map((c) => c.el) : h("p.muted.trigger-none", "No triggers: the event runs only as a test run. Add a Manual trigger to allow Run now, or a Schedule to run it at set times."));
    refreshReadings();
  }

  const kind = h("select", { id: "trigger-add-type", "aria-label": "Kind of trigger to add" },
    TRIGGER_TYPES.map(([value, title, hint]) => h("option", { value }, `${title} — ${hint}`)));
  const add = h("button.btn", { type: "button", onclick: () => {
    const trigger = { type: kind.value, enabled: true };
    if (kind.value === "schedule") Object.assign(trigger, { hours: [9], minutes: [0] });
    if (kind.value === "keyboard") trigger.keys = [];
    if (kind.value === "interval") Object.assign(trigger, { start: Math.ceil(Date.now() / 60000) * 60, duration: 3600 });
    if (kind.value === "single") trigger.epoch = Math.ceil(Date.now() / 3600000) * 3600 + 3600;
    if (kind.value === "blackout") Object.assign(trigger, { start: Math.ceil(Date.now() / 3600000) * 3600, end: Math.ceil(Date.now() / 3600000) * 3600 + 86400 });
    if (kind.value === "delay") trigger.duration = 60;
    if (kind.value === "precision") trigger.seconds = [0];
    if (kind.value === "plugin") trigger.params = {};
    triggers.push(trigger);
    draw();
    changed();
    const last = cards[cards.length - 1];
    if (last) (last.el.querySelector("input:not([type=checkbox]), select") || last.el.querySelector("input")).focus();
  } }, "Add trigger");

  draw();
  const el = h("div.field.trigger-editor", { dataset: { field: "triggers" } },
    list, h("div.row.trigger-add", kind, add), errors);

  return {
    el,
    refreshReadings,
    /** The triggers to save; throws {message} when an input does not parse. */
    read() {
      const bad = el.querySelector("[data-invalid]");
      if (bad) throw { message: bad.dataset.invalid, control: bad };
      return triggers.map((t) => ({ ...t }));
    },
    /** Put an API error at the trigger it names; true when it was placed. */
    showError(text) {
      for (const node of el.querySelectorAll(".trigger-error, .trigger-list-error")) node.textContent = "";
      for (const node of el.querySelectorAll(".trigger-card.invalid")) node.classList.remove("invalid");
      const entry = text.match(/trigger entry #(\d+)/i);
      let target = entry ? cards[Number(entry[1]) - 1] : null;
      const param = text.match(/trigger parameter: (\w+)/i);
      if (!target && param) target = cards.find((c) => c.trigger.type === "schedule" && c.el.querySelector(`[data-key="${param[1]}"]`)) || null;
      if (target) {
        target.el.classList.add("invalid");
        target.el.querySelector(".trigger-error").textContent = text;
        const control = param ? target.el.querySelector(`[data-key="${param[1]}"]`) : null;
        if (control) control.setAttribute("aria-invalid", "true");
        (control || target.el.querySelector("input, select") || target.el).focus();
        return target.el;
      }
      if (/trigger|rule/i.test(text)) {
        errors.textContent = text;
        return errors;
      }
      return null;
    },
  };
}

/** The forecast of the next runs; `load()` returns the preview_event_forecast parameters (or throws). */
export function forecastPanel({ load, enabled = () => true }) {
  const body = h("div.forecast-body", h("p.muted", "Loading the forecast…"));
  const el = h("div.forecast", { "aria-live": "polite" }, body);
  let request = 0;
  const weekday = new Intl.DateTimeFormat(undefined, { weekday: "short" });

  function note(row) {
    if (row.suppressed) return h("span.badge.warn", `Suppressed: ${row.reason}`);
    return null;
  }

  function detail(row) {
    const parts = [];
    if (row.suppressed && row.detail) parts.push(row.detail);
    if (row.dst) parts.push(h("span.forecast-dst", `DST: ${row.dst}`));
    if (!row.suppressed && row.until && row.until !== row.at) parts.push(h("span", "starts at ", time(row.until, { seconds: true })));
    if (!row.suppressed && row.stype) parts.push(`${row.stype} run`);
    return parts.length ? parts.flatMap((p, i) => (i ? [h("br"), p] : [p])) : h("span.muted", "");
  }

  async function refresh() {
    const mine = ++request;
    let params;
    try {
      params = load();
    } catch (problem) {
      replace(body, h("p.muted", `The forecast waits for a correction: ${problem.message}`));
      return;
    }
    let answer;
    try {
      answer = await call("preview_event_forecast", params);
    } catch (error) {
      if (mine !== request) return;
      replace(body, errorBox(error, "No forecast"));
      return;
    }
    if (mine !== request) return;
    const rows = answer.rows || [];
    if (!answer.active && !rows.length) {
      replace(body, h("p.muted", "No enabled schedule, interval or single-shot trigger: this event runs only when started by hand, by a magic link or at start-up."));
      return;
    }
    if (!rows.length) {
      replace(body, h("p.muted", "No runs in the next 400 days with these triggers."));
      return;
    }
    replace(body,
      enabled() ? null : h("p.alert.info", "The event is disabled: these runs happen only once it is enabled."),
      h("div.table-wrap", h("table.table.forecast-table",
        h("caption.sr-only", "The next runs"),
        h("thead", h("tr", h("th", { scope: "col" }, "When (your time)"), h("th", { scope: "col" }, "In"), h("th", { scope: "col" }, "Trigger"), h("th", { scope: "col" }, "Notes"))),
        h("tbody", rows.map((row) => h(`tr.forecast-row${row.suppressed ? ".forecast-suppressed" : ""}`, { dataset: { at: String(row.at) } },
          h("td", h("span.forecast-day", weekday.format(new Date(row.at * 1000))), " ", time(row.at)),
          h("td", relative(row.at)),
          h("td", `#${row.trigger + 1} ${triggerTitle(row.type)}`, h("div.small.muted", row.iso && row.timezone ? `${row.iso.slice(11, 16)} ${row.timezone}` : "")),
          h("td", note(row), detail(row))))))),
      h("p.small.muted", `The next ${rows.length} instants after now${rows.some((r) => r.suppressed) ? ", including those a blackout, range or every-Nth rule holds back" : ""}. Server time zone: ${answer.timezone}.`));
  }

  return { el, refresh, schedule: debounce(refresh, 350) };
}

