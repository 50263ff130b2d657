// Small SVG charts without a library: the job's cpu/mem over time (samples of the live updates)
// or, for a finished job, its min/average/peak.
import { h } from "../dom.js";
import { bytes } from "../format.js";

const NS = "http://www.w3.org/2000/svg";

/** svg("rect", {x: 1, class: "bar"}, ...children) → an SVG element (no markup parsing). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Rounded-up axis maximum: 1, 2, 5 × 10^n. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

const cpuText = (v) => `${Math.round(v)}%`;

/** A line chart of one measure: samples [{t, v}] (t seconds since start). */
function lineChart(title, samples, format, max, kind) {
  const width = 320;
  const height = 110;
  const pad = { left: 4, right: 4, top: 8, bottom: 16 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const span = Math.max(1, samples.length ? samples[samples.length - 1].t - samples[0].t : 1);
  const t0 = samples.length ? samples[0].t : 0;
  const x = (t) => pad.left + ((t - t0) / span) * innerW;
  const y = (v) => pad.top + innerH - (Math.max(0, v) / max) * innerH;
  const points = samples.map((s) => `${x(s.t).toFixed(1)},${y(s.v).toFixed(1)}`).join(" ");
  const last = samples[samples.length - 1];
  const peak = samples.reduce((m, s) => Math.max(m, s.v), 0);
  const label = `${title}: now ${last ? format(last.v) : "—"}, peak ${format(peak)} over ${samples.length} samples`;
  return h("figure.job-chart",
    h("figcaption", h("strong", title), " ", h("span.muted.small", `now ${last ? format(last.v) : "—"} · peak ${format(peak)}`)),
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: `chart chart-${kind}`, preserveAspectRatio: "none" },
      svg("title", {}, label),
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(max), y2: y(max), class: "grid" }),
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: "axis" }),
      svg("text", { x: pad.left + 2, y: pad.top + 8, class: "tick" }, format(max)),
      samples.length > 1 ? svg("polygon", { points: `${x(t0)},${y(0)} ${points} ${x(last.t)},${y(0)}`, class: "area" }) : null,
      samples.length > 1 ? svg("polyline", { points, class: "line" }) : null,
      samples.length === 1 ? svg("circle", { cx: x(last.t), cy: y(last.v), r: 3, class: "dot" }) : null,
      svg("text", { x: width - pad.right, y: height - 3, class: "tick", "text-anchor": "end" }, `${Math.round(span)} s`)));
}

/** Min / average / peak bars of a finished job's stats {min, max, total, count}. */
function summaryChart(title, stats, format, kind) {
  const avg = stats.count ? stats.total / stats.count : 0;
  const rows = [["min", stats.min], ["avg", avg], ["peak", stats.max]];
  const max = niceMax(Math.max(...rows.map((r) => r[1] || 0)));
  const width = 320;
  const rowH = 22;
  const height = rows.length * rowH + 4;
  const label = `${title}: minimum ${format(stats.min || 0)}, average ${format(avg)}, peak ${format(stats.max || 0)}`;
  return h("figure.job-chart",
    h("figcaption", h("strong", title), " ", h("span.muted.small", `${stats.count || 0} samples`)),
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: `chart chart-${kind}` },
      svg("title", {}, label),
      rows.map(([name, value], i) => {
        const w = Math.max(1, ((value || 0) / max) * (width - 130));
        return svg("g", {},
          svg("text", { x: 0, y: i * rowH + 15, class: "tick" }, name),
          svg("rect", { x: 40, y: i * rowH + 4, width: w.toFixed(1), height: rowH - 8, rx: 2, class: "bar" }),
          svg("text", { x: 46 + w, y: i * rowH + 15, class: "tick" }, format(value || 0)));
      })));
}

/** The resources panel body: live samples when there are some, else the job's cpu/mem stats. */
export function resourceCharts(job, samples) {
  const cpu = samples.filter((s) => typeof s.cpu === "number").map((s) => ({ t: s.t, v: s.cpu }));
  const mem = samples.filter((s) => typeof s.mem === "number").map((s) => ({ t: s.t, v: s.mem }));
  const charts = [];
  if (cpu.length) charts.push(lineChart("CPU", cpu, cpuText, niceMax(Math.max(100, ...cpu.map((s) => s.v))), "cpu"));
  else if (job.cpu && job.cpu.count) charts.push(summaryChart("CPU", job.cpu, cpuText, "cpu"));
  if (mem.length) charts.push(lineChart("Memory", mem, bytes, niceMax(Math.max(...mem.map((s) => s.v))), "mem"));
  else if (job.mem && job.mem.count) charts.push(summaryChart("Memory", job.mem, bytes, "mem"));
  return charts;
}
