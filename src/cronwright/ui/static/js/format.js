// Times in the browser's zone (UTC on hover), durations in words, sizes: never a raw epoch.
import { h } from "./dom.js";

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const utc = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" });

export function isEpoch(value) {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}

/** A <time> element: local date and time, UTC in its title; "—" without a time. */
export function time(epoch, { seconds = false } = {}) {
  if (!isEpoch(epoch)) return h("span.muted", "—");
  const date = new Date(epoch * 1000);
  return h("time", { datetime: date.toISOString(), title: `${utc.format(date)} UTC` },
    (seconds ? dateTimeSeconds : dateTime).format(date));
}

export function timeText(epoch) {
  return isEpoch(epoch) ? dateTime.format(new Date(epoch * 1000)) : "—";
}

/** "3 minutes ago", "in 2 hours" (an element with the full time on hover). */
export function relative(epoch, now = Date.now() / 1000) {
  if (!isEpoch(epoch)) return h("span.muted", "—");
  const date = new Date(epoch * 1000);
  const diff = epoch - now;
  const words = Math.abs(diff) < 45 ? "just now" : diff < 0 ? `${duration(-diff, { short: true })} ago` : `in ${duration(diff, { short: true })}`;
  return h("time", { datetime: date.toISOString(), title: `${dateTimeSeconds.format(date)} (${utc.format(date)} UTC)` }, words);
}

const UNITS = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

/** 3725 → "1 hour 2 minutes" (short: the largest unit only, "1 hour"). */
export function duration(seconds, { short = false } = {}) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 1) return seconds === 0 ? "0 seconds" : "less than a second";
  const parts = [];
  let rest = Math.round(seconds);
  for (const [name, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count) {
      parts.push(`${count} ${name}${count === 1 ? "" : "s"}`);
      rest -= count * size;
    }
    if (parts.length === (short ? 1 : 2)) break;
  }
  return parts.join(" ") || "0 seconds";
}

export function bytes(count) {
  if (typeof count !== "number" || !Number.isFinite(count)) return "—";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} ${value === 1 ? "byte" : "bytes"}` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function percent(fraction) {
  return typeof fraction === "number" && Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : "—";
}

/** A job's outcome as a word and a badge class. */
export function outcome(job) {
  if (!job) return ["unknown", ""];
  if (job.final === false || (job.state && job.state !== "complete")) return [job.state || "running", "run"];
  const code = job.code;
  if (code === 0 || code === "0" || code === undefined) return ["success", "ok"];
  if (code === "warning") return ["warning", "warn"];
  if (code === "abort") return ["aborted", "warn"];
  return ["error", "err"];
}

export function outcomeBadge(job) {
  const [word, kind] = outcome(job);
  return h(`span.badge${kind ? "." + kind : ""}`, word);
}
