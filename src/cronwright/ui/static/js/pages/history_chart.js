// The history chart: jobs per hour/day/week stacked by outcome, with the average duration as a
// line (SVG, no library), computed from search_jobs rows {code, completed, elapsed}.
import { h } from "../dom.js";
import { duration, outcome } from "../format.js";
import { svg, niceMax } from "./job_chart.js";

const KINDS = ["success", "warning", "abort", "error"];
const KIND_WORDS = { success: "success", warning: "warning", abort: "aborted", error: "error" };

function kindOf(job) {
  const [word] = outcome({ ...job, final: true, state: "complete" });
  return word === "aborted" ? "abort" : word === "warning" ? "warning" : word === "success" ? "success" : "error";
}

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

/** Bucket starts (local time) from the first to the last completion: hours, days or weeks. */
function bucketing(first, last) {
  const span = last - first;
  if (span <= 48 * HOUR) {
    return { unit: "hour", floor: (t) => { const d = new Date(t); d.setMinutes(0, 0, 0); return d.getTime(); }, next: (t) => { const d = new Date(t); d.setHours(d.getHours() + 1); return d.getTime(); } };
  }
  if (span <= 90 * DAY) {
    return { unit: "day", floor: (t) => { const d = new Date(t); d.setHours(0, 0, 0, 0); return d.getTime(); }, next: (t) => { const d = new Date(t); d.setDate(d.getDate() + 1); return d.getTime(); } };
  }
  return {
    unit: "week",
    floor: (t) => { const d = new Date(t); d.setHours(0, 0, 0, 0); d.setDate(d.getDate() - ((d.getDay() + 6) % 7)); return d.getTime(); },
    next: (t) => { const d = new Date(t); d.setDate(d.getDate() + 7); return d.getTime(); },
  };
}

const hourFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const longFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const longDay = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

/** 90 → "1.5 min": an axis label. */
function compact(seconds) {
  if (seconds < 60) return `${+seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${+(seconds / 60).toFixed(1)} min`;
  if (seconds < 86400) return `${+(seconds / 3600).toFixed(1)} h`;
  return `${+(seconds / 86400).toFixed(1)} d`;
}

/** Buckets [{start, end, counts: {success,...}, total, avgElapsed}] of the rows. */
export function buckets(rows) {
  const times = rows.filter((r) => typeof r.completed === "number").map((r) => r.completed * 1000);
  if (!times.length) return { unit: "day", list: [] };
  const first = Math.min(...times);
  const last = Math.max(...times);
  const b = bucketing(first, last);
  const list = [];
  const index = new Map();
  for (let t = b.floor(first); t <= last; t = b.next(t)) {
    index.set(t, list.length);
    list.push({ start: t, end: b.next(t), counts: { success: 0, warning: 0, abort: 0, error: 0 }, total: 0, elapsedSum: 0, elapsedCount: 0 });
  }
  for (const row of rows) {
    if (typeof row.completed !== "number") continue;
    const bucket = list[index.get(b.floor(row.completed * 1000))];
    if (!bucket) continue;
    bucket.counts[kindOf(row)] += 1;
    bucket.total += 1;
    if (typeof row.elapsed === "number") {
      bucket.elapsedSum += row.elapsed;
      bucket.elapsedCount += 1;
    }
  }
  for (const bucket of list) bucket.avgElapsed = bucket.elapsedCount ? bucket.elapsedSum / bucket.elapsedCount : null;
  return { unit: b.unit, list };
}

/** The chart figure for `rows` (or an explanation when there is nothing to draw). */
export function historyChart(rows, { width = 800 } = {}) {
  const { unit, list } = buckets(rows);
  if (!list.length) return h("p.muted", "No finished jobs to chart.");
  width = Math.max(320, Math.min(1200, Math.round(width)));
  const height = width < 600 ? 200 : 220;
  const pad = { left: 34, right: 46, top: 10, bottom: 24 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const maxCount = niceMax(Math.max(...list.map((b) => b.total)));
  const maxElapsed = niceMax(Math.max(0, ...list.map((b) => b.avgElapsed || 0)));
  const slot = innerW / list.length;
  const barW = Math.max(1, Math.min(40, slot * 0.7));
  const x = (i) => pad.left + i * slot + (slot - barW) / 2;
  const yCount = (n) => pad.top + innerH - (n / maxCount) * innerH;
  const yElapsed = (s) => pad.top + innerH - (s / maxElapsed) * innerH;
  const label = (b) => (unit === "hour" ? longFormat.format(new Date(b.start)) : unit === "day" ? longDay.format(new Date(b.start)) : `week of ${longDay.format(new Date(b.start))}`);
  const tickEvery = Math.max(1, Math.ceil(list.length / Math.max(3, Math.floor(width / 100))));

  const bars = list.map((b, i) => {
    let y = pad.top + innerH;
    const parts = [];
    for (const kind of KINDS) {
      const n = b.counts[kind];
      if (!n) continue;
      const hgt = (n / maxCount) * innerH;
      y -= hgt;
      parts.push(svg("rect", { x: x(i).toFixed(1), y: y.toFixed(1), width: barW.toFixed(1), height: Math.max(0.5, hgt).toFixed(1), class: `bar-${kind}` }));
    }
    const words = KINDS.filter((k) => b.counts[k]).map((k) => `${b.counts[k]} ${KIND_WORDS[k]}`).join(", ") || "no jobs";
    const avg = b.avgElapsed === null ? "" : `; average duration ${duration(b.avgElapsed)}`;
    return svg("g", { class: "bucket" }, svg("title", {}, `${label(b)}: ${words}${avg}`),
      svg("rect", { x: (pad.left + i * slot).toFixed(1), y: pad.top, width: slot.toFixed(1), height: innerH, fill: "transparent" }), parts);
  });
  const withDuration = list.map((b, i) => [b, i]).filter(([b]) => b.avgElapsed !== null);
  const linePoints = withDuration.map(([b, i]) => `${(x(i) + barW / 2).toFixed(1)},${yElapsed(b.avgElapsed).toFixed(1)}`).join(" ");
  const ticks = list.map((b, i) => (i % tickEvery === 0
    ? svg("text", { x: (x(i) + barW / 2).toFixed(1), y: height - 6, class: "tick", "text-anchor": "middle" },
      unit === "hour" ? hourFormat.format(new Date(b.start)) : dayFormat.format(new Date(b.start)))
    : null));
  const total = list.reduce((n, b) => n + b.total, 0);
  const totals = KINDS.map((k) => [k, list.reduce((n, b) => n + b.counts[k], 0)]).filter(([, n]) => n);
  const summary = `${total} jobs by ${unit}, from ${label(list[0])} to ${label(list[list.length - 1])}: ${totals.map(([k, n]) => `${n} ${KIND_WORDS[k]}`).join(", ")}`;
  return h("figure.history-chart-wrap",
    svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart history-chart", role: "img", "aria-label": summary },
      svg("title", {}, summary),
      [0, 0.5, 1].map((f) => svg("line", { x1: pad.left, x2: width - pad.right, y1: yCount(maxCount * f), y2: yCount(maxCount * f), class: f ? "grid" : "axis" })),
      svg("text", { x: pad.left - 4, y: yCount(maxCount) + 4, class: "tick", "text-anchor": "end" }, String(maxCount)),
      svg("text", { x: pad.left - 4, y: yCount(0) + 4, class: "tick", "text-anchor": "end" }, "0"),
      withDuration.length ? svg("text", { x: width - pad.right + 4, y: yElapsed(maxElapsed) + 4, class: "tick" }, compact(maxElapsed)) : null,
      bars,
      withDuration.length > 1 ? svg("polyline", { points: linePoints, class: "duration-line" }) : null,
      withDuration.map(([b, i]) => svg("circle", { cx: (x(i) + barW / 2).toFixed(1), cy: yElapsed(b.avgElapsed).toFixed(1), r: 2.5, class: "duration-dot" })),
      ticks),
    h("figcaption.history-legend",
      KINDS.map((k) => h(`span.k-${k}`, KIND_WORDS[k])),
      h("span.k-duration", "average duration (right scale)")));
}
