// History (#/history): search_jobs with filters and paging, and a chart of outcomes and
// durations over time. The filters live in the address (#/history?event=…&outcome=…).
import { call } from "../api.js";
import { h, replace } from "../dom.js";
import { time, duration, outcomeBadge } from "../format.js";
import { errorBox, table, emptyState, field, pageHead } from "../components.js";
import { historyChart } from "./history_chart.js";

const PAGE = 25;
const CHART_ROWS = 1000;
const FILTERS = ["event", "category", "server", "outcome", "source", "tag", "from", "to", "q", "sort"];
const OUTCOMES = [["", "Any outcome"], ["success", "Success"], ["error", "Error"], ["warning", "Warning"], ["abort", "Aborted"], ["critical", "Critical"]];
const SOURCES = [["", "Any source"], ["scheduler", "Scheduler"], ["user", "User"], ["key", "API key"], ["action", "Action"], ["workflow", "Workflow"], ["plugin", "Plugin"], ["magic", "Magic link"], ["startup", "Startup"], ["alert", "Alert"]];
const SORTS = [["", "Newest first", "completed", -1], ["oldest", "Oldest first", "completed", 1], ["longest", "Longest first", "elapsed", -1], ["shortest", "Shortest first", "elapsed", 1]];
const ROW_KEYS = ["id", "event", "event_title", "code", "description", "completed", "started", "elapsed", "category", "server", "source", "tags", "username"];

/** A value as one word of the simple query syntax (quoted when it has spaces). */
function word(value) {
  const clean = String(value).trim().replace(/"/g, "");
  return /\s/.test(clean) ? `"${clean}"` : clean;
}

/** Local midnight of a YYYY-MM-DD date, in Unix seconds. */
function midnight(date, plusDays = 0) {
  const [y, m, d] = date.split("-").map(Number);
  return Math.floor(new Date(y, m - 1, d + plusDays).getTime() / 1000);
}

/** The search_jobs query of the filters (spec search-jobs.md §4). */
export function buildQuery(f) {
  const terms = [];
  if (f.event) terms.push(`event:${word(f.event)}`);
  if (f.category) terms.push(`category:${word(f.category)}`);
  if (f.server) terms.push(`server:${word(f.server)}`);
  if (f.source) terms.push(`source:${word(f.source)}`);
  if (f.tag) terms.push(`tags:${word(f.tag)}`);
  if (f.outcome === "success") terms.push("code:0");
  else if (f.outcome === "error") terms.push("tags:_error code:-warning code:-abort");
  else if (["warning", "abort", "critical"].includes(f.outcome)) terms.push(`code:${f.outcome}`);
  if (/^\d{4}-\d{2}-\d{2}$/.test(f.from || "")) terms.push(`date:>=${midnight(f.from)}`);
  if (/^\d{4}-\d{2}-\d{2}$/.test(f.to || "")) terms.push(`date:<${midnight(f.to, 1)}`);
  if (f.q && f.q.trim()) terms.push(f.q.trim());
  return terms.join(" ") || "*";
}

export default async function render(root, ctx) {
  const filters = Object.fromEntries(FILTERS.map((k) => [k, ctx.query.get(k) || ""]));
  let offset = Math.max(0, parseInt(ctx.query.get("offset") || "0", 10) || 0);

  const controls = {
    event: h("input", { name: "event", list: "history-events", autocomplete: "off", placeholder: "Event id or title", value: filters.event }),
    category: h("select", { name: "category" }, h("option", { value: "" }, "Any category")),
    server: h("select", { name: "server" }, h("option", { value: "" }, "Any server")),
    outcome: h("select", { name: "outcome" }, OUTCOMES.map(([v, t]) => h("option", { value: v }, t))),
    source: h("select", { name: "source" }, SOURCES.map(([v, t]) => h("option", { value: v }, t))),
    tag: h("select", { name: "tag" }, h("option", { value: "" }, "Any tag")),
    from: h("input", { type: "date", name: "from", value: filters.from }),
    to: h("input", { type: "date", name: "to", value: filters.to }),
    q: h("input", { type: "search", name: "q", value: filters.q, placeholder: "e.g. tags:nightly code:-0|abort", autocomplete: "off" }),
    sort: h("select", { name: "sort" }, SORTS.map(([v, t]) => h("option", { value: v }, t))),
  };
  const events = h("datalist", { id: "history-events" });
  for (const key of ["outcome", "source", "sort"]) controls[key].value = filters[key];
  addOption(controls.category, filters.category);
  addOption(controls.server, filters.server);
  addOption(controls.tag, filters.tag);

  const form = h("form.panel.history-filters", { role: "search", "aria-label": "Filter jobs" },
    field("Event", controls.event),
    field("Category", controls.category),
    field("Server", controls.server),
    field("Outcome", controls.outcome),
    field("Source", controls.source),
    field("Tag", controls.tag),
    field("Finished from", controls.from),
    field("Finished until", controls.to),
    field("Sort", controls.sort),
    h("div.history-query", field("Query", controls.q, "optional; search syntax of search_jobs")),
    events,
    h("div.history-buttons",
      h("button.btn.btn-primary", { type: "submit" }, "Search"),
      h("button.btn", { type: "button", onclick: () => { for (const k of FILTERS) controls[k].value = ""; apply(); } }, "Clear filters")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  for (const key of ["category", "server", "outcome", "source", "tag", "sort", "from", "to"]) {
    controls[key].addEventListener("change", () => apply());
  }

  const chartPanel = h("section.panel", { "aria-label": "Outcomes over time" }, h("h2", "Outcomes over time"), h("p.loading", "Loading…"));
  const results = h("section", { "aria-label": "Jobs" }, h("p.loading", "Loading…"));
  root.classList.add("jobs-page");
  root.replaceChildren(pageHead("History"), form, chartPanel, results);

  let eventTitles = {};
  let generation = 0;

  function current() {
    const f = Object.fromEntries(FILTERS.map((k) => [k, controls[k].value.trim()]));
    // an event given by its title searches by its id
    const byTitle = Object.entries(eventTitles).find(([, t]) => t.toLowerCase() === f.event.toLowerCase());
    if (byTitle) f.event = byTitle[0];
    return f;
  }

  function apply(newOffset = 0) {
    offset = newOffset;
    const f = current();
    const params = new URLSearchParams();
    for (const k of FILTERS) if (f[k]) params.set(k, f[k]);
    if (offset) params.set("offset", String(offset));
    const hash = `#/history${params.toString() ? `?${params}` : ""}`;
    if (location.hash !== hash) history.pushState(null, "", hash);
    load();
  }

  async function load() {
    const mine = ++generation;
    const f = current();
    const query = buildQuery(f);
    const sort = SORTS.find(([v]) => v === f.sort) || SORTS[0];
    results.setAttribute("aria-busy", "true");
    const page = call("search_jobs", { query, offset, limit: PAGE, sort_by: sort[2], sort_dir: sort[3], select: ROW_KEYS });
    const chart = call("search_jobs", { query, offset: 0, limit: CHART_ROWS, sort_by: "completed", sort_dir: -1, select: ["id", "code", "completed", "elapsed"] });
    try {
      const answer = await page;
      if (mine !== generation || !ctx.alive()) return;
      drawResults(answer, f);
    } catch (error) {
      if (mine !== generation || !ctx.alive()) return;
      replace(results, errorBox(error, "The search failed"), h("p.muted", "Check the query syntax, or clear the filters."));
    } finally {
      results.removeAttribute("aria-busy");
    }
    try {
      const answer = await chart;
      if (mine !== generation || !ctx.alive()) return;
      const total = answer.list?.length ?? answer.rows.length;
      replace(chartPanel, h("h2", "Outcomes over time"),
        historyChart(answer.rows || [], { width: chartPanel.clientWidth - 34 }),
        total > CHART_ROWS ? h("p.muted.small", `Drawn from the latest ${CHART_ROWS.toLocaleString()} of ${total.toLocaleString()} matching jobs.`) : null);
    } catch (error) {
      if (mine !== generation || !ctx.alive()) return;
      replace(chartPanel, h("h2", "Outcomes over time"), errorBox(error, "The chart could not be drawn"));
    }
  }

  function drawResults(answer, f) {
    const rows = answer.rows || [];
    const total = answer.list?.length ?? rows.length;
    const filtered = FILTERS.some((k) => k !== "sort" && f[k]);
    if (!rows.length) {
      replace(results, emptyState(filtered ? "No jobs match these filters" : "No finished jobs yet",
        filtered ? "Widen the date range or clear some filters." : "Jobs appear here once they finish. Run an event from the Events page.",
        filtered ? h("button.btn", { type: "button", onclick: () => { for (const k of FILTERS) controls[k].value = ""; apply(); } }, "Clear filters")
          : h("a.btn", { href: "#/events" }, "Go to the events")));
      return;
    }
    const columns = [
      { title: "Job", cell: (j) => h("a.job-link", { href: `#/job/${encodeURIComponent(j.id)}` }, j.id) },
      { title: "Event", cell: (j) => j.event_title || eventTitles[j.event] || j.event || h("span.muted", "ad hoc") },
      { title: "Outcome", cell: (j) => h("span", { title: j.description || "" }, outcomeBadge({ ...j, final: true, state: "complete" })) },
      { title: "Finished", cell: (j) => time(j.completed), class: "num" },
      { title: "Duration", cell: (j) => duration(j.elapsed), class: "num" },
      { title: "Server", cell: (j) => j.server || h("span.muted", "—") },
      { title: "Source", cell: (j) => (SOURCES.find(([v]) => v === j.source) || [null, j.source || "—"])[1] },
      { title: "Tags", cell: (j) => (j.tags || []).filter((t) => !String(t).startsWith("_")).map((t) => h("span.badge", t)) },
    ];
    const first = offset + 1;
    const last = offset + rows.length;
    replace(results,
      h("p.history-summary.muted", `Jobs ${first.toLocaleString()}–${last.toLocaleString()} of ${total.toLocaleString()}`),
      h("div.history-table", table(columns, rows)),
      h("nav.pager", { "aria-label": "Pages" },
        h("button.btn", { type: "button", disabled: offset <= 0, onclick: () => apply(Math.max(0, offset - PAGE)) }, "Previous"),
        h("span.muted", `Page ${Math.floor(offset / PAGE) + 1} of ${Math.max(1, Math.ceil(total / PAGE))}`),
        h("button.btn", { type: "button", disabled: last >= total, onclick: () => apply(offset + PAGE) }, "Next")));
  }

  load();

  // the choices of the filters, when they arrive
  const [categories, servers, tags, eventList] = await Promise.allSettled([
    call("get_categories", {}), call("get_active_servers", {}), call("get_tags", {}), call("get_events", {}),
  ]);
  if (!ctx.alive()) return;
  fill(controls.category, categories, (c) => [c.id, c.title || c.id]);
  fill(controls.server, servers, (s) => [s.id, s.title || s.hostname || s.id]);
  fill(controls.tag, tags, (t) => [t.id, t.title || t.id]);
  if (eventList.status === "fulfilled") {
    const rows = eventList.value.rows || [];
    eventTitles = Object.fromEntries(rows.map((e) => [e.id, e.title || e.id]));
    events.replaceChildren(...rows.map((e) => h("option", { value: e.id }, e.title || e.id)));
  }
}

function addOption(select, value) {
  if (!value) return;
  select.append(h("option", { value }, value));
  select.value = value;
}

function fill(select, settled, pair) {
  if (settled.status !== "fulfilled") return;
  const chosen = select.value;
  const rows = settled.value.rows || [];
  const options = rows.map(pair).sort((a, b) => a[1].localeCompare(b[1]));
  if (chosen && !options.some(([v]) => v === chosen)) options.unshift([chosen, chosen]);
  select.replaceChildren(select.options[0], ...options.map(([v, t]) => h("option", { value: v }, t)));
  select.value = chosen;
}
