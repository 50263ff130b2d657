// Dashboard (#/): running jobs with live progress, queued jobs, the next runs, failures of the last
// 24 hours and the servers online. Refreshed every 5 seconds while the tab is visible (running jobs
// and servers; the rest every 30 seconds and whenever a job finishes).
import { h, replace } from "../dom.js";
import { emptyState, errorBox, pageHead, progressBar, table } from "../components.js";
import { duration, outcomeBadge, percent, relative, time } from "../format.js";
import * as data from "./dash_data.js";
import { serverJobs, serverLoad, serverMemory } from "./dash_servers.js";

export const REFRESH_MS = 5000;
const SLOW_EVERY = 6; // ticks between refreshes of the next runs and failures (30 s)

function stat(label, id) {
  const value = h("span.stat-value", { id }, "…");
  return [h("div.stat", h("span.stat-label", label), value), value];
}

function panel(title, ...children) {
  const id = `dash-${title.toLowerCase().replace(/\W+/g, "-")}`;
  return h("section.panel.dash-panel", { "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

const STATE_WORDS = {
  queued: "queued",
  ready: "about to start",
  start_delay: "delayed start",
  retry_delay: "waiting to retry",
};

export default async function render(root, ctx) {
  root.classList.add("page-dashboard");
  const [runningStat, runningValue] = stat("Running", "stat-running");
  const [queuedStat, queuedValue] = stat("Queued", "stat-queued");
  const [failStat, failValue] = stat("Failed in 24 h", "stat-failed");
  const [serverStat, serverValue] = stat("Servers online", "stat-servers");
  const running = h("div", h("p.loading", "Loading…"));
  const waiting = h("div", h("p.loading", "Loading…"));
  const next = h("div", h("p.loading", "Loading…"));
  const failed = h("div", h("p.loading", "Loading…"));
  const online = h("div", h("p.loading", "Loading…"));
  const updated = h("p.muted.small.dash-updated", { "aria-live": "off" });
  const actions = [h("a.btn", { href: "#/history" }, "History")];
  if (ctx.can("create_events")) actions.push(h("a.btn.btn-primary", { href: "#/events/new" }, "New event"));
  root.append(
    pageHead("Dashboard", ...actions),
    h("div.stats", runningStat, queuedStat, failStat, serverStat),
    panel("Running jobs", running),
    h("div.dash-grid",
      panel("Next runs", next),
      panel("Failures in the last 24 hours", failed),
      panel("Queued jobs", waiting),
      panel("Servers online", online)),
    updated,
  );

  let eventCount = null;
  let runningRows = new Map(); // job id → {bar, pct, elapsed}
  let lastRunning = new Set();
  let tick = 0;
  let lastRefresh = 0;
  let busy = false;

  function showRunning(jobs) {
    const ids = jobs.map((j) => j.id);
    const same = ids.length === runningRows.size && ids.every((id) => runningRows.has(id));
    const now = Date.now() / 1000;
    if (same && ids.length) {
      for (const job of jobs) updateRow(runningRows.get(job.id), job, now); // in place: bars animate
      return;
    }
    runningRows = new Map();
    replace(running, table([
      { title: "Event", cell: (j) => h("a", { href: `#/job/${encodeURIComponent(j.id)}` }, data.eventTitle(j)) },
      { title: "Server", cell: (j) => j.server || h("span.muted", "—") },
      { title: "Started", cell: (j) => relative(j.started, now) },
      { title: "Elapsed", cell: (j) => cells(j).elapsed, class: "nowrap" },
      { title: "Progress", cell: (j) => cells(j).progress, class: "dash-progress" },
    ], jobs, {
      rowAttrs: (j) => ({ dataset: { job: j.id } }),
      empty: emptyState("No jobs are running", eventCount === 0 ? null : "Jobs appear here live while they run.",
        ...(eventCount === 0 ? [] : [h("a.btn", { href: "#/events" }, "Run an event")])),
    }));
    for (const job of jobs) updateRow(runningRows.get(job.id), job, now);
  }

  function cells(job) {
    let entry = runningRows.get(job.id);
    if (!entry) {
      const bar = progressBar(0);
      bar.setAttribute("aria-label", `Progress of ${data.eventTitle(job)}`);
      entry = { bar, pct: h("span.pct"), elapsed: h("span"), progress: null };
      entry.progress = h("div.progress-cell", bar, entry.pct);
      runningRows.set(job.id, entry);
    }
    return entry;
  }

  function updateRow(entry, job, now) {
    if (!entry) return;
    const fraction = typeof job.progress === "number" ? Math.max(0, Math.min(1, job.progress)) : 0;
    entry.bar.firstChild.style.width = `${fraction * 100}%`;
    entry.bar.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
    entry.pct.textContent = job.progress ? percent(fraction) : "started";
    entry.elapsed.textContent = duration(Math.max(0, now - (job.started || now)));
  }

  function showWaiting(jobs) {
    const now = Date.now() / 1000;
    replace(waiting, table([
      { title: "Event", cell: (j) => h("a", { href: `#/job/${encodeURIComponent(j.id)}` }, data.eventTitle(j)) },
      { title: "State", cell: (j) => h("span.badge.warn", STATE_WORDS[j.state] || j.state) },
      { title: "Until", cell: (j) => (j.until ? relative(j.until, now) : h("span.muted", "a free slot")) },
      { title: "Since", cell: (j) => relative(j.started || j.now, now) },
    ], jobs, { empty: emptyState("Nothing is queued", "Jobs wait here when a limit or a busy server holds them back.") }));
  }

  function noEvents() {
    return emptyState("No events yet — create one", "An event is a job definition: what to run, where, and when.",
      ...(ctx.can("create_events") ? [h("a.btn.btn-primary", { href: "#/events/new" }, "Create an event")] : []));
  }

  function showNext(rows) {
    if (!rows.length) {
      replace(next, eventCount === 0 ? noEvents()
        : emptyState("No runs scheduled in the next 24 hours", "Give an event a schedule trigger to see its runs here.",
          h("a.btn", { href: "#/events" }, "Open events")));
      return;
    }
    const now = Date.now() / 1000;
    replace(next, table([
      { title: "When", cell: (r) => h("span.stack-cell", time(r.epoch), h("span.muted.small", relative(r.epoch, now))) },
      { title: "Event", cell: (r) => h("a", { href: `#/event/${encodeURIComponent(r.event)}` }, r.title || r.event) },
      { title: "Trigger", cell: (r) => r.type || "schedule" },
    ], rows));
  }

  function showFailures({ rows, total }) {
    failValue.textContent = String(total);
    failStat.classList.toggle("bad", total > 0);
    const now = Date.now() / 1000;
    replace(failed, table([
      { title: "Job", cell: (j) => h("a", { href: `#/job/${encodeURIComponent(j.id)}` }, data.eventTitle(j)) },
      { title: "Result", cell: (j) => outcomeBadge({ ...j, final: true, state: "complete" }) },
      { title: "Message", cell: (j) => h("span.clip", { title: j.description || "" }, j.description || "") },
      { title: "Ended", cell: (j) => relative(j.completed, now), class: "nowrap" },
    ], rows, {
      empty: emptyState("No failures in the last 24 hours", eventCount === 0 ? null : "Every job that ended in the last day succeeded."),
    }));
    if (rows.length && total > rows.length) {
      failed.append(h("p.small", h("a", { href: "#/history?query=tags%3A_error" }, `See all ${total} in History`)));
    }
  }

  function showServers(rows, jobs) {
    serverValue.textContent = String(rows.length);
    replace(online, table([
      { title: "Server", cell: (s) => h("a", { href: `#/server/${encodeURIComponent(s.id)}` }, s.title || s.hostname) },
      { title: "Load", cell: (s) => serverLoad(s) },
      { title: "Memory", cell: (s) => serverMemory(s) },
      { title: "Jobs", cell: (s) => String(serverJobs(s, jobs)) },
    ], rows, {
      empty: emptyState("No servers online", "Jobs need a server. The conductor runs jobs itself unless local_worker is off; agents join from the Servers page.",
        h("a.btn", { href: "#/servers" }, "Servers")),
    }));
  }

  async function guard(box, promise, show) {
    try {
      show(await promise);
    } catch (error) {
      if (ctx.alive()) replace(box, errorBox(error, "Could not load this"));
    }
  }

  async function refresh({ all = false } = {}) {
    if (busy || !ctx.alive()) return;
    busy = true;
    lastRefresh = Date.now();
    try {
      if (eventCount === null) eventCount = await data.eventCount().catch(() => null);
      const jobs = await data.activeJobs().catch((error) => ({ error }));
      if (!ctx.alive()) return;
      let finished = false;
      if (jobs.error) {
        replace(running, errorBox(jobs.error, "Running jobs could not be loaded"));
      } else {
        runningValue.textContent = String(jobs.running.length);
        queuedValue.textContent = String(jobs.waiting.length);
        const ids = new Set(jobs.running.map((j) => j.id));
        finished = [...lastRunning].some((id) => !ids.has(id));
        lastRunning = ids;
        showRunning(jobs.running);
        showWaiting(jobs.waiting);
      }
      const tasks = [guard(online, data.servers(), (rows) => showServers(rows, jobs.running || []))];
      if (all || finished || tick % SLOW_EVERY === 0) {
        tasks.push(guard(next, data.upcoming(), showNext));
        tasks.push(guard(failed, data.failures(), showFailures));
      }
      await Promise.all(tasks);
      if (ctx.alive()) updated.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} seconds while this page is visible.`;
    } finally {
      tick += 1;
      busy = false;
    }
  }

  const timer = setInterval(() => {
    if (!document.hidden) refresh();
  }, REFRESH_MS);
  const onVisible = () => {
    if (!document.hidden && Date.now() - lastRefresh >= REFRESH_MS) refresh({ all: true });
  };
  document.addEventListener("visibilitychange", onVisible);
  ctx.onCleanup(() => {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
  });
  await refresh({ all: true });
}
