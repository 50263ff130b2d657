// Server figures shared by the dashboard and the Servers page: load, memory, jobs.
import { h } from "../dom.js";
import { bytes, percent } from "../format.js";

/** "0.24 on 2 cores" with a bar of load per core. */
export function serverLoad(server) {
  const cpu = (server.info && server.info.cpu) || {};
  if (typeof cpu.avgLoad !== "number") return h("span.muted", "—");
  const cores = cpu.cores || 1;
  return h("span.meter", { title: `Load average ${cpu.avgLoad} on ${cores} core${cores === 1 ? "" : "s"}` },
    h("span.meter-text", `${cpu.avgLoad.toFixed(2)} / ${cores} core${cores === 1 ? "" : "s"}`),
    meterBar(cpu.avgLoad / cores));
}

/** "1.0 GB of 24 GB" with a bar of memory in use. */
export function serverMemory(server) {
  const memory = (server.info && server.info.memory) || {};
  if (typeof memory.total !== "number" || !memory.total) return h("span.muted", "—");
  const used = typeof memory.active === "number" ? memory.active : memory.total - (memory.available || 0);
  const fraction = used / memory.total;
  return h("span.meter", { title: `${percent(fraction)} of memory in use` },
    h("span.meter-text", `${bytes(used)} of ${bytes(memory.total)}`),
    meterBar(fraction));
}

function meterBar(fraction) {
  const clamped = Math.max(0, Math.min(1, Number(fraction) || 0));
  const fill = h("span", { class: clamped > 0.9 ? "hot" : clamped > 0.7 ? "warm" : "" });
  fill.style.width = `${clamped * 100}%`;
  return h("span.meter-bar", { "aria-hidden": "true" }, fill);
}

/** Running jobs on the server (from the active jobs when given, else the server's own count). */
export function serverJobs(server, jobs) {
  if (Array.isArray(jobs)) return jobs.filter((j) => j.server === server.id).length;
  const monitors = (server.info && server.info.monitors) || {};
  return monitors.active_jobs || 0;
}
