// The job page (#/job/:id): status, progress, times, the live log, resources, what the job
// reported, tags; abort and run again.
import { call } from "../api.js";
import { h, replace } from "../dom.js";
import { time, duration, bytes, outcome, outcomeBadge, percent } from "../format.js";
import { errorBox, toast, confirmDialog, progressBar, pageHead, emptyState } from "../components.js";
import { openStream } from "./job_sse.js";
import { LogViewer } from "./job_log.js";
import { resourceCharts } from "./job_chart.js";
import { htmlReport, jobTable, filesTable, actionsTable, metaLog, dataBlock } from "./job_report.js";

const SOURCES = {
  scheduler: "Scheduled", user: "Run by a user", key: "Run with an API key", action: "Started by an action",
  workflow: "Workflow", plugin: "Plugin trigger", magic: "Magic link", startup: "At startup", alert: "Alert", retry: "Retry",
};

export default async function render(root, ctx) {
  const id = ctx.params.id;
  root.classList.add("jobs-page");
  root.append(h("p.loading", "Loading the job…"));
  let answer;
  try {
    answer = await call("get_job", { id });
  } catch (error) {
    if (!ctx.alive()) return;
    replace(root, pageHead("Job"), errorBox(error, "This job could not be loaded"),
      h("p", h("a", { href: "#/history" }, "Find jobs in the history"), " or go back to the ", h("a", { href: "#/" }, "dashboard"), "."));
    return;
  }
  if (!ctx.alive()) return;
  let job = answer.job;
  const token = answer.token;
  const samples = [];
  let eventTitle = job.event_title || "";
  let serverName = "";
  let tagTitles = {};
  let categoryTitle = "";
  let pluginTitle = "";
  let finalLoaded = Boolean(job.final);

  // side facts, shown when they arrive
  const extras = Promise.allSettled([
    job.event ? call("get_event", { id: job.event }) : Promise.reject(new Error("no event")),
    call("get_active_servers", {}),
    call("get_tags", {}),
    job.category ? call("get_category", { id: job.category }) : Promise.reject(new Error("no category")),
    job.plugin ? call("get_plugin", { id: job.plugin }) : Promise.reject(new Error("no plugin")),
  ]).then(([event, servers, tags, category, plugin]) => {
    if (category.status === "fulfilled") categoryTitle = category.value.category?.title || "";
    if (plugin.status === "fulfilled") pluginTitle = plugin.value.plugin?.title || "";
    if (event.status === "fulfilled") eventTitle = event.value.event?.title || eventTitle;
    if (servers.status === "fulfilled") {
      const found = (servers.value.rows || []).find((s) => s.id === job.server);
      serverName = found ? found.title || found.hostname || "" : "";
    }
    if (tags.status === "fulfilled") tagTitles = Object.fromEntries((tags.value.rows || []).map((t) => [t.id, t.title || t.id]));
  });

  const head = h("div");
  const summary = h("div.job-summary.panel");
  const resources = h("section.panel.job-resources", { "aria-label": "Resources" });
  const reports = h("div.job-reports");
  const log = new LogViewer(job, token, { onEnd: () => refresh() });
  root.replaceChildren(head, h("div.job-top", summary, resources), log.el, reports);
  ctx.onCleanup(() => log.close());

  function active() {
    return !job.final && job.state !== "complete";
  }

  function title() {
    return eventTitle || job.event || "Job";
  }

  function drawHead() {
    const actions = [];
    if (active() && ctx.can("abort_jobs")) {
      actions.push(h("button.btn.btn-danger", { type: "button", onclick: abort }, "Abort job"));
    }
    if (!active() && job.event && ctx.can("run_jobs")) {
      actions.push(h("button.btn", { type: "button", onclick: rerun }, "Run again"));
    }
    if (job.event) actions.push(h("a.btn", { href: `#/event/${encodeURIComponent(job.event)}` }, "Event"));
    replace(head, pageHead(title(), ...actions), h("p.muted.job-id", "Job ", h("code", job.id)));
    ctx.setTitle(`${title()} · ${job.id}`);
  }

  function drawSummary() {
    const [word] = outcome(job);
    const running = active();
    const elapsed = running ? (job.started ? Math.max(0, Date.now() / 1000 - job.started) : null) : job.elapsed;
    const rows = [
      ["Status", h("span.row", outcomeBadge(job), running && job.state !== "active" ? h("span.muted", stateWords(job)) : null)],
      job.description || (!running && word !== "success" && job.code !== undefined)
        ? ["Result", h("span", job.description || `Code ${String(job.code)}`)] : null,
      ["Event", job.event ? h("a", { href: `#/event/${encodeURIComponent(job.event)}` }, eventTitle || job.event) : h("span.muted", "none")],
      ["Server", job.server ? h("span", serverName || job.server, serverName && serverName !== job.server ? h("span.muted.small", ` (${job.server})`) : null) : h("span.muted", running ? "not chosen yet" : "none")],
      ["Source", h("span", SOURCES[job.source] || job.source || "—", job.username ? h("span.muted.small", ` · ${job.username}`) : null)],
      ["Started", time(job.started, { seconds: true })],
      running ? null : ["Completed", time(job.completed, { seconds: true })],
      ["Duration", h("span.job-duration", elapsed === null || elapsed === undefined ? "—" : duration(elapsed))],
      ["Log size", bytes(job.log_file_size || 0)],
      job.category ? ["Category", categoryTitle || job.category] : null,
      job.plugin ? ["Plugin", pluginTitle || job.plugin] : null,
    ].filter(Boolean);
    const progress = typeof job.progress === "number" ? job.progress : 0;
    replace(summary,
      running ? h("div.job-progress",
        h("div.row", h("strong", job.state === "active" ? "Running" : stateWords(job)), h("span.muted", percent(progress)), job.status ? h("span.muted.small", String(job.status)) : null),
        progressBar(progress)) : null,
      h("dl.kv", rows.map(([k, v]) => [h("dt", k), h("dd", v)])),
      tagsBlock());
  }

  function stateWords(j) {
    const words = { start_delay: "Waiting to start", retry_delay: "Waiting to retry", ready: "Ready", queued: "Queued", starting: "Starting", finishing: "Finishing", suspended: "Suspended" };
    return words[j.state] || j.state || "";
  }

  function tagsBlock() {
    const tags = Array.isArray(job.tags) ? job.tags : [];
    const user = tags.filter((t) => !String(t).startsWith("_"));
    const system = tags.filter((t) => String(t).startsWith("_"));
    const list = h("div.row.job-tags",
      user.map((t) => h("span.badge", tagTitles[t] || t)),
      system.map((t) => h("span.badge.job-system-tag", { title: "Set by Cronwright" }, t.slice(1))));
    const canTag = !active() && ctx.can("tag_jobs");
    const wrap = h("div.job-tags-block", h("h3", "Tags"), tags.length ? list : h("p.muted.small", canTag ? "No tags yet." : "No tags."));
    if (canTag) {
      const input = h("input", { name: "tags", value: user.join(", "), "aria-label": "Tags (comma-separated)", list: "job-tag-options", placeholder: "e.g. important, nightly" });
      const options = h("datalist", { id: "job-tag-options" }, Object.entries(tagTitles).map(([tid, t]) => h("option", { value: tid }, t)));
      const form = h("form.row.job-tag-form", input, options, h("button.btn.btn-small", { type: "submit" }, "Save tags"));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const wanted = input.value.split(",").map((t) => t.trim()).filter(Boolean);
        try {
          await call("manage_job_tags", { id: job.id, tags: [...new Set([...system, ...wanted])] });
          job.tags = [...new Set([...system, ...wanted])];
          toast("Tags saved.", "ok");
          drawSummary();
        } catch (error) {
          form.after(errorBox(error, "The tags could not be saved"));
        }
      });
      wrap.append(form);
    }
    return wrap;
  }

  function drawResources() {
    const charts = resourceCharts(job, samples);
    replace(resources, h("h2", "CPU and memory"),
      charts.length ? h("div.job-charts", charts)
        : h("p.muted", active() ? "Measurements appear once the job's process is running." : "No measurements were recorded for this job."));
  }

  function section(titleText, ...content) {
    return h("section.panel", { "aria-label": titleText }, h("h2", titleText), ...content);
  }

  function drawReports() {
    const parts = [];
    if (job.html && job.html.content) {
      parts.push(section(job.html.title ? String(job.html.title) : "Report", htmlReport(job.html.content),
        job.html.caption ? h("p.muted.small", String(job.html.caption)) : null));
    }
    if (job.table && (Array.isArray(job.table.rows) || Array.isArray(job.table.header))) parts.push(section("Table", jobTable(job.table)));
    if (job.data && typeof job.data === "object" && Object.keys(job.data).length) parts.push(section("Output data", dataBlock(job.data)));
    if (Array.isArray(job.files) && job.files.length) {
      parts.push(section("Files", filesTable(job.files, {
        canDelete: !active() && ctx.can("delete_jobs"),
        onDelete: async (file) => {
          if (!(await confirmDialog(`Delete the file ${file.filename}? It cannot be restored.`, { confirm: "Delete file", danger: true }))) return;
          try {
            await call("delete_job_file", { id: job.id, path: file.path });
            job.files = job.files.filter((f) => f !== file);
            toast("File deleted.", "ok");
            drawReports();
          } catch (error) {
            toast(error.description || String(error), "err");
          }
        },
      })));
    }
    const input = job.input || {};
    if ((input.data && Object.keys(input.data).length) || (Array.isArray(input.files) && input.files.length)) {
      parts.push(section("Input",
        input.data && Object.keys(input.data).length ? dataBlock(input.data) : null,
        Array.isArray(input.files) && input.files.length ? filesTable(input.files) : null));
    }
    const ran = [...(Array.isArray(job.actions) ? job.actions : []), ...(Array.isArray(job.limits) ? job.limits.filter((l) => l.code !== undefined || l.date) : [])];
    if (ran.length) parts.push(section("Actions", actionsTable(ran)));
    if (Array.isArray(job.activity) && job.activity.length) {
      parts.push(h("details.panel.job-meta", h("summary", h("strong", "Job notes"), h("span.muted.small", ` (${job.activity.length})`)), metaLog(job.activity)));
    }
    replace(reports, parts.length ? parts : (active() ? null : section("Output", emptyState("Nothing reported", "This job reported no data, table, report or files."))));
  }

  function drawAll() {
    drawHead();
    drawSummary();
    drawResources();
    drawReports();
  }

  async function refresh() {
    try {
      const fresh = await call("get_job", { id });
      if (!ctx.alive()) return;
      job = fresh.job;
      finalLoaded = Boolean(job.final);
      eventTitle = job.event_title || eventTitle;
      drawAll();
    } catch (error) {
      if (ctx.alive()) toast(error.description || String(error), "err");
    }
  }

  async function abort() {
    if (!(await confirmDialog("Abort this job? Its process is stopped and the job ends as aborted.", { confirm: "Abort job", danger: true }))) return;
    try {
      await call("abort_job", { id: job.id });
      toast("Abort requested: the job is stopping.", "ok");
    } catch (error) {
      toast(error.description || String(error), "err");
    }
  }

  async function rerun() {
    if (!(await confirmDialog(`Run “${title()}” again with the same parameters?`, { confirm: "Run again" }))) return;
    const request = { id: job.event, params: job.params || {} };
    if (job.input && job.input.data && Object.keys(job.input.data).length) request.input = { data: job.input.data };
    try {
      const started = await call("run_event", request);
      toast("Job started.", "ok");
      ctx.navigate(`/job/${started.id}`);
    } catch (error) {
      toast(error.description || String(error), "err");
    }
  }

  drawAll();
  extras.then(() => { if (ctx.alive()) drawAll(); });
  log.open();

  if (active()) {
    const live = openStream("stream_job", { id }, {
      update: (update) => {
        if (!ctx.alive() || finalLoaded) return;
        const { xy, redraw, ...changes } = update;
        if ("code" in changes && changes.completed) {
          refresh();
          return;
        }
        Object.assign(job, changes);
        if (changes.cpu || changes.mem) {
          const t = job.started ? Date.now() / 1000 - job.started : samples.length;
          samples.push({ t, cpu: changes.cpu?.current, mem: changes.mem?.current });
          if (samples.length > 3600) samples.splice(0, samples.length - 3600);
        }
        drawHead();
        drawSummary();
        drawResources();
        if (changes.table || changes.html) drawReports();
      },
    }, {
      onclose: () => { if (ctx.alive() && !finalLoaded) setTimeout(() => { if (ctx.alive() && !finalLoaded) refresh(); }, 500); },
    });
    ctx.onCleanup(() => live.close());
    // the duration counts up while the job runs
    const ticker = setInterval(() => {
      if (!active()) return;
      const cell = summary.querySelector(".job-duration");
      if (cell && job.started) cell.textContent = duration(Math.max(0, Date.now() / 1000 - job.started));
    }, 1000);
    ctx.onCleanup(() => clearInterval(ticker));
  }
}
