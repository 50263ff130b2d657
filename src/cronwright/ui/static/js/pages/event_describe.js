// Pure helpers of the events pages (no DOM): human readings of triggers, limits and actions,
// number lists as people type them ("1-5, 7"), and a line diff for revision history.
import { duration, timeText, bytes } from "../format.js";

const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
export const WEEKDAY_SHORT = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
export const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];

/** "1-5, 7" → [1,2,3,4,5,7]; throws Error with a sentence when a part is not a whole number or range. */
export function parseList(text, { min = -Infinity, max = Infinity, what = "value" } = {}) {
  const out = [];
  for (const raw of String(text || "").split(/[\s,]+/)) {
    if (!raw) continue;
    const range = raw.match(/^(-?\d+)-(-?\d+)$/);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (a > b) throw new Error(`The range ${raw} runs backwards; write it as ${b}-${a}.`);
      if (b - a > 400) throw new Error(`The range ${raw} is too long.`);
      for (let i = a; i <= b; i += 1) out.push(i);
    } else if (/^-?\d+$/.test(raw)) {
      out.push(Number(raw));
    } else {
      throw new Error(`"${raw}" is not a whole number or a range like 1-5.`);
    }
  }
  for (const n of out) {
    if (n < min || n > max) throw new Error(`${n} is out of range for ${what} (${min} to ${max}).`);
  }
  return [...new Set(out)].sort((a, b) => a - b);
}

/** [1,2,3,5] → "1-3, 5" (the text form of a list for an input). */
export function formatList(list) {
  if (!Array.isArray(list) || !list.length) return "";
  const sorted = [...list].sort((a, b) => a - b);
  const parts = [];
  let start = sorted[0];
  let prev = start;
  for (const n of sorted.slice(1).concat([null])) {
    if (n !== null && n === prev + 1) {
      prev = n;
      continue;
    }
    parts.push(start === prev ? String(start) : prev === start + 1 ? `${start}, ${prev}` : `${start}-${prev}`);
    start = prev = n;
  }
  return parts.join(", ");
}

function words(items, last = "and") {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} ${last} ${items[items.length - 1]}`;
}

function two(n) {
  return String(n).padStart(2, "0");
}

function ordinal(n) {
  const s = ["th", "st", "nd", "rd"];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

function has(list) {
  return Array.isArray(list) && list.length > 0;
}

function dayWords(days) {
  const named = days.map((d) => (d === -1 ? "the last day" : d < 0 ? `the ${ordinal(-d)}-to-last day` : `the ${ordinal(d)}`));
  return `on ${words(named)} of the month`;
}

function weekdayWords(weekdays) {
  const set = [...new Set(weekdays)].sort();
  if (set.length === 7) return "every day";
  if (set.join() === "1,2,3,4,5") return "every weekday";
  if (set.join() === "0,6") return "every Saturday and Sunday";
  return `every ${words(set.map((d) => WEEKDAYS[d] || `day ${d}`))}`;
}

function timeWords(hours, minutes) {
  if (!has(hours) && !has(minutes)) return "every minute";
  if (!has(hours)) {
    if (minutes.length === 1) return minutes[0] === 0 ? "every hour on the hour" : `every hour at ${two(minutes[0])} minutes past`;
    if (minutes.length > 6) return `${minutes.length} times an hour (minutes ${formatList(minutes)})`;
    return `every hour at minutes ${words(minutes.map(String))}`;
  }
  if (!has(minutes)) return `every minute of ${hours.length === 1 ? `hour ${two(hours[0])}` : `hours ${formatList(hours)}`}`;
  if (hours.length * minutes.length <= 6) {
    const times = [];
    for (const h of hours) for (const m of minutes) times.push(`${two(h)}:${two(m)}`);
    return `at ${words(times)}`;
  }
  return `at minutes ${formatList(minutes)} of hours ${formatList(hours)}`;
}

/** "every weekday at 09:30 Europe/Berlin" for a schedule trigger (defaultTz: the server's zone). */
export function describeSchedule(trigger, defaultTz = "") {
  const t = trigger || {};
  const when = timeWords(t.hours, t.minutes);
  const parts = [];
  const everyMinuteOrHour = when.startsWith("every");
  if (has(t.weekdays)) parts.push(weekdayWords(t.weekdays));
  else if (!has(t.days) && !everyMinuteOrHour) parts.push("every day");
  if (has(t.days)) parts.push(dayWords(t.days));
  if (has(t.months)) parts.push(`in ${words(t.months.map((m) => MONTHS[m - 1] || `month ${m}`), "or")}`);
  if (has(t.years)) parts.push(`in ${words(t.years.map(String), "or")}`);
  const zone = t.timezone || defaultTz;
  let text = everyMinuteOrHour ? [when, ...parts].join(", ") : [...parts, when].join(" ");
  if (has(t.days) && has(t.weekdays)) text += " (both the day and the weekday must match)";
  return zone ? `${text} ${zone}` : text;
}

/** One sentence per trigger type. */
export function describeTrigger(trigger, defaultTz = "") {
  const t = trigger || {};
  switch (t.type) {
    case "schedule": return capital(describeSchedule(t, defaultTz));
    case "interval": return t.duration ? `Every ${duration(Number(t.duration))}, starting ${timeText(Number(t.start))}` : "Every … (set a duration)";
    case "single": return t.epoch ? `Once, at ${timeText(Number(t.epoch))}` : "Once (set a date and time)";
    case "manual": return "Can be run by hand (Run now, the API, run_event actions)";
    case "magic": return "Runs when its magic link is opened or posted to";
    case "startup": return "Runs when Cronwright starts";
    case "catchup": return "Catches up: runs missed while the scheduler was down are run afterwards";
    case "range": return `Scheduled runs only ${t.start ? `from ${timeText(Number(t.start))}` : ""}${t.start && t.end ? " " : ""}${t.end ? `until ${timeText(Number(t.end))}` : ""}`.trim();
    case "blackout": return `No scheduled runs from ${timeText(Number(t.start))} to ${timeText(Number(t.end))}`;
    case "delay": return `Each scheduled job waits ${duration(Number(t.duration) || 0)} before it starts`;
    case "precision": return `Scheduled jobs start at second${(t.seconds || []).length === 1 ? "" : "s"} ${words((t.seconds || []).map(String)) || "…"} of the minute`;
    case "nth": return `Only every ${ordinal(Number(t.every) || 2)} scheduled run happens`;
    case "quiet": return `Scheduled jobs are ${words([t.invisible ? "hidden from lists" : "", t.ephemeral ? "not kept after they succeed" : ""].filter(Boolean)) || "quiet (choose a mode)"}`;
    case "plugin": return `A scheduler plugin (${t.plugin_id || "?"}) decides each scheduled run`;
    case "keyboard": return `Runs on the keys ${(t.keys || []).join(", ")}`;
    default: return `A ${t.type || "trigger"} trigger`;
  }
}

function capital(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

export const TRIGGER_TYPES = [
  ["schedule", "Schedule", "Runs at set times (minutes, hours, weekdays…)"],
  ["interval", "Interval", "Runs every N seconds from a start time"],
  ["single", "Single shot", "Runs once at a date and time"],
  ["manual", "Manual", "Allows Run now and API runs"],
  ["magic", "Magic link", "A secret URL that starts a job"],
  ["startup", "Startup", "Runs when Cronwright starts"],
  ["catchup", "Catch-up", "Runs what was missed while down"],
  ["range", "Date range", "Scheduled runs only inside a range"],
  ["blackout", "Blackout", "No scheduled runs inside a period"],
  ["delay", "Delay", "Scheduled jobs wait before starting"],
  ["precision", "Precision", "Scheduled jobs start at given seconds"],
  ["nth", "Every Nth", "Only every Nth scheduled run"],
  ["quiet", "Quiet", "Hide or do not keep scheduled jobs"],
  ["plugin", "Scheduler plugin", "A plugin decides each scheduled run"],
  ["keyboard", "Keyboard", "A shortcut in this UI starts a job"],
];

export function triggerTitle(type) {
  const found = TRIGGER_TYPES.find((t) => t[0] === type);
  return found ? found[1] : type || "Trigger";
}

/** A limit as a sentence ("At most 2 jobs at once"). */
export function describeLimit(limit) {
  const l = limit || {};
  const off = l.enabled ? "" : " (disabled)";
  const amount = Number(l.amount);
  switch (l.type) {
    case "time": return `Time limit: ${duration(Number(l.duration))}${l.abort ? ", then abort" : ""}${off}`;
    case "job": return `At most ${amount} job${amount === 1 ? "" : "s"} at once${off}`;
    case "queue": return `At most ${amount} queued job${amount === 1 ? "" : "s"}${off}`;
    case "retry": return `Retry ${amount} time${amount === 1 ? "" : "s"}${l.duration ? `, ${duration(Number(l.duration))} apart` : ""}${off}`;
    case "log": return `Log size limit: ${bytes(amount)}${off}`;
    case "mem": return `Memory limit: ${bytes(amount)}${l.duration ? ` for ${duration(Number(l.duration))}` : ""}${off}`;
    case "cpu": return `CPU limit: ${amount}%${l.duration ? ` for ${duration(Number(l.duration))}` : ""}${off}`;
    case "file": return `Input files: at most ${Number.isFinite(amount) ? amount : "any number"}${l.size ? `, ${bytes(Number(l.size))} in total` : ""}${l.accept ? ` (${l.accept})` : ""}${off}`;
    case "day": return `At most ${amount} "${l.condition}" a day${off}`;
    case "tag": return `At most ${amount} tag${amount === 1 ? "" : "s"}${off}`;
    default: return `${l.type || "Unknown"} limit${off}`;
  }
}

/** An action as a sentence ("On error: email ops@example.com"). */
export function describeAction(action) {
  const a = action || {};
  const off = a.enabled ? "" : " (disabled)";
  const when = `On ${String(a.condition || "?").replace(/^tag:/, "tag ")}`;
  switch (a.type) {
    case "email": return `${when}: email ${words([...(a.users || []), a.email].filter(Boolean)) || "…"}${off}`;
    case "web_hook": return `${when}: call web hook ${a.web_hook || "?"}${off}`;
    case "run_event": return `${when}: run event ${a.event_id || "?"}${off}`;
    case "disable": return `${when}: disable this event${off}`;
    case "delete": return `${when}: delete this event${off}`;
    case "tag": return `${when}: add tag${(a.tags || []).length === 1 ? "" : "s"} ${words(a.tags || [])}${off}`;
    case "label": return `${when}: set label "${a.label || ""}"${off}`;
    default: return `${when}: ${a.type || "unknown"} action${off}`;
  }
}

/** Line diff (longest common subsequence): [{op: " "|"+"|"-", text}]. */
export function diffLines(before, after) {
  const a = before === "" ? [] : before.split("\n");
  const b = after === "" ? [] : after.split("\n");
  if (a.length * b.length > 4_000_000) {
    return [...a.map((text) => ({ op: "-", text })), ...b.map((text) => ({ op: "+", text }))];
  }
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: " ", text: a[i] });
      i += 1;
      j += 1;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: "-", text: a[i++] });
    } else {
      out.push({ op: "+", text: b[j++] });
    }
  }
  while (i < n) out.push({ op: "-", text: a[i++] });
  while (j < m) out.push({ op: "+", text: b[j++] });
  return out;
}

const IGNORED_IN_DIFF = new Set(["modified", "revision"]);

/** The top-level fields that differ between two event snapshots: [{key, lines}]. */
export function diffEvents(older, newer) {
  const keys = [...new Set([...Object.keys(older || {}), ...Object.keys(newer || {})])].filter((k) => !IGNORED_IN_DIFF.has(k));
  const changes = [];
  for (const key of keys.sort()) {
    const a = older && key in older ? JSON.stringify(older[key], null, 2) : "";
    const b = newer && key in newer ? JSON.stringify(newer[key], null, 2) : "";
    if (a !== b) changes.push({ key, lines: diffLines(a, b) });
  }
  return changes;
}
