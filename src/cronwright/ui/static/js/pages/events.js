// Events: every event with search and filters (in memory), next run, last result, enable/disable in
// place. Rows are rendered in pages of ROWS_PER_PAGE as the list scrolls, so 10,000 events stay fast.
import { call } from "../api.js";
import { h, replace, debounce } from "../dom.js";
import { time, relative, outcomeBadge } from "../format.js";
import { emptyState, errorBox, pageHead, toast } from "../components.js";

const ROWS_PER_PAGE = 100;
const BLOCKED = {
  category: "its category is disabled",
  plugin: "its plugin is disabled",
  scheduler: "the scheduler is switched off",
};

function byId(rows) {
  return new Map(rows.map((row) => [row.id, row]));
}

function options(label, name, items, all) {
  const select = h("select", { name, id: `events-filter-${name}` },
    h("option", { value: "" }, all),
    items.map(([value, text]) => h("option", { value }, text)));
  return h("div.events-filter", h("label", { for: select.id }, label), select);
}

export default async function render(root, ctx) {
  const canCreate = ctx.can("create_events");
  const canEdit = ctx.can("edit_events");
  root.append(pageHead("Events", canCreate ? h("a.btn.btn-primary", { href: "#/events/new" }, "New event") : null));
  const status = h("p.loading", "Loading events…");
  root.append(status);

  const loaded = await Promise.allSettled([
    call("get_events"),
    call("get_categories"),
    call("get_plugins"),
    call("get_tags"),
    call("get_groups"),
    call("get_active_servers"),
  ]);
  if (!ctx.alive()) return;
  performance.mark("events:data"); // bench/ui_events.py reads these marks
  if (loaded[0].status === "rejected") {
    replace(status, errorBox(loaded[0].reason, "The events could not be loaded"));
    status.className = "";
    return;
  }
  const rowsOf = (i) => (loaded[i].status === "fulfilled" ? loaded[i].value.rows || [] : []);
  const events = rowsOf(0);
  const categories = byId(rowsOf(1));
  const plugins = byId(rowsOf(2));
  const tags = byId(rowsOf(3));
  const groups = byId(rowsOf(4));
  const servers = byId(rowsOf(5));
  status.remove();

  if (!events.length) {
    root.append(emptyState("No events yet",
      canCreate ? "An event runs a plugin (for example a shell script) on a schedule or on demand. Create the first one."
        : "An event runs a plugin on a schedule or on demand. Ask someone who may create events to add one.",
      canCreate ? h("a.btn.btn-primary", { href: "#/events/new" }, "New event") : null));
    return;
  }

  const titleOf = (map, id) => (map.get(id) && map.get(id).title) || id;
  const targetName = (id) => (groups.get(id) && groups.get(id).title) || (servers.get(id) && (servers.get(id).hostname || servers.get(id).title)) || id;
  // precomputed search text and sort order: filtering 10,000 events is a few milliseconds
  const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });
  for (const event of events) {
    const title = String(event.title || "");
    event._sort = title.toLowerCase();
    event._search = `${event._sort} ${event.id} ${String(event.notes || "").toLowerCase()}`;
  }
  // plain comparison of lower-case titles: a collator is several times slower on 10,000 titles
  events.sort((a, b) => (a._sort < b._sort ? -1 : a._sort > b._sort ? 1 : 0));

  const summaries = new Map();
  const rendered = new Map(); // event id → {next, last} cells of rows on screen
  let summaryState = "loading";

  // --- filters
  const search = h("input", { type: "search", name: "q", id: "events-search", placeholder: "Title, id or notes", autocomplete: "off" });
  const usedTargets = new Set(events.flatMap((e) => (Array.isArray(e.targets) ? e.targets : [])));
  const usedTags = new Set(events.flatMap((e) => (Array.isArray(e.tags) ? e.tags : [])));
  const sortByText = (pairs) => pairs.sort((a, b) => collator.compare(a[1], b[1]));
  const filters = {
    category: options("Category", "category", sortByText([...new Set(events.map((e) => e.category))].map((id) => [id, titleOf(categories, id)])), "All categories"),
    tag: options("Tag", "tag", sortByText([...usedTags].map((id) => [id, titleOf(tags, id)])), "All tags"),
    target: options("Target", "target", sortByText([...usedTargets].map((id) => [id, targetName(id)])), "All targets"),
    plugin: options("Plugin", "plugin", sortByText([...new Set(events.map((e) => e.plugin))].map((id) => [id, titleOf(plugins, id)])), "All plugins"),
    enabled: options("State", "enabled", [["1", "Enabled"], ["0", "Disabled"]], "Enabled and disabled"),
  };
  const clear = h("button.btn.btn-quiet", { type: "button", onclick: () => {
    search.value = "";
    for (const box of Object.values(filters)) box.querySelector("select").value = "";
    apply();
  } }, "Clear filters");
  const count = h("p.muted.small.events-count", { role: "status", "aria-live": "polite" });
  root.append(h("div.events-filters.panel", { role: "search" },
    h("div.events-filter.events-search", h("label", { for: search.id }, "Search"), search),
    Object.values(filters), h("div.events-filter.events-clear", clear)), count);

  const value = (name) => filters[name].querySelector("select").value;
  function matches() {
    const text = search.value.trim().toLowerCase();
    const words = text ? text.split(/\s+/) : [];
    const category = value("category");
    const tag = value("tag");
    const target = value("target");
    const plugin = value("plugin");
    const enabled = value("enabled");
    return events.filter((e) => (!category || e.category === category)
      && (!plugin || e.plugin === plugin)
      && (!tag || (Array.isArray(e.tags) && e.tags.includes(tag)))
      && (!target || (Array.isArray(e.targets) && e.targets.includes(target)))
      && (!enabled || (enabled === "1") === Boolean(e.enabled))
      && words.every((w) => e._search.includes(w)));
  }

  // --- the table, rendered a page at a time
  const tbody = h("tbody");
  const table = h("div.table-wrap.events-table",
    h("table.table",
      h("caption.sr-only", "Events"),
      h("thead", h("tr",
        h("th", { scope: "col" }, "Title"),
        h("th", { scope: "col" }, "Category"),
        h("th", { scope: "col" }, "Plugin"),
        h("th", { scope: "col" }, "Targets"),
        h("th", { scope: "col" }, "Next run"),
        h("th", { scope: "col" }, "Last result"),
        h("th", { scope: "col" }, "Enabled"))),
      tbody));
  const more = h("button.btn", { type: "button", onclick: () => renderMore() }, "Show more");
  const moreRow = h("div.events-more", more);
  const empty = h("div");
  root.append(table, moreRow, empty);

  let current = [];
  let shown = 0;

  function nextCell(event) {
    if (!event.enabled) return h("span.muted", "Disabled");
    const summary = summaries.get(event.id);
    if (!summary) return h("span.muted", summaryState === "loading" ? "…" : "—");
    if (!summary.next) return h("span.muted", "Not scheduled");
    return h("span.events-next", time(summary.next), " ", h("span.muted.small", relative(summary.next)),
      summary.blocked ? h("div.small.warn-text", `Paused: ${BLOCKED[summary.blocked] || summary.blocked}`) : null);
  }

  function lastCell(event) {
    const summary = summaries.get(event.id);
    if (!summary) return h("span.muted", summaryState === "loading" ? "…" : "—");
    if (!summary.last_job) return h("span.muted", "Never run");
    return h("a.events-last", { href: `#/job/${encodeURIComponent(summary.last_job)}`, title: "Open the last job" },
      outcomeBadge({ code: summary.last_code, final: true }), " ", h("span.small.muted", relative(summary.last_completed)));
  }

  function toggle(event) {
    const box = h("input", { type: "checkbox", "aria-label": `Enabled: ${event.title}`, disabled: !canEdit });
    box.checked = Boolean(event.enabled);
    if (!canEdit) box.title = "You may not edit events";
    box.addEventListener("change", async () => {
      const wanted = box.checked;
      box.disabled = true;
      try {
        const answer = await call("update_event", { id: event.id, enabled: wanted });
        Object.assign(event, answer.event, { _search: event._search, _sort: event._sort });
        toast(`${event.title}: ${wanted ? "enabled" : "disabled"}.`, "ok");
      } catch (error) {
        box.checked = !wanted;
        toast(`${event.title} could not be ${wanted ? "enabled" : "disabled"}: ${error.description || error.message}`, "err");
      } finally {
        box.disabled = false;
        const cells = rendered.get(event.id);
        if (cells) {
          replace(cells.next, nextCell(event));
          cells.row.classList.toggle("events-off", !event.enabled);
        }
      }
    });
    return h("span.events-toggle", box);
  }

  function row(event) {
    const next = h("td.events-next-cell", nextCell(event));
    const last = h("td", lastCell(event));
    const targets = Array.isArray(event.targets) ? event.targets : [];
    const tr = h(`tr${event.enabled ? "" : ".events-off"}`, { dataset: { id: event.id } },
      h("td.events-title",
        h("a", { href: `#/event/${encodeURIComponent(event.id)}` }, event.title || event.id),
        Array.isArray(event.tags) && event.tags.length ? h("div.events-tags", event.tags.map((t) => h("span.badge.events-tag", titleOf(tags, t)))) : null),
      h("td", titleOf(categories, event.category)),
      h("td", titleOf(plugins, event.plugin)),
      h("td.events-targets", targets.map(targetName).join(", ")),
      next, last,
      h("td", toggle(event)));
    rendered.set(event.id, { next, last, row: tr });
    return tr;
  }

  function renderMore() {
    const slice = current.slice(shown, shown + ROWS_PER_PAGE);
    const fragment = document.createDocumentFragment();
    for (const event of slice) fragment.append(row(event));
    tbody.append(fragment);
    shown += slice.length;
    moreRow.hidden = shown >= current.length;
    more.textContent = `Show more (${(current.length - shown).toLocaleString()} left)`;
  }

  function apply() {
    const found = matches();
    // the same events as on screen (typing within a match): keep the rows and their focus
    const same = found.length === current.length && found.every((event, i) => event === current[i]) && tbody.childElementCount;
    current = found;
    if (same) return;
    shown = 0;
    rendered.clear();
    tbody.replaceChildren();
    const total = events.length.toLocaleString();
    count.textContent = current.length === events.length ? `${total} event${events.length === 1 ? "" : "s"}` : `${current.length.toLocaleString()} of ${total} events match`;
    if (!current.length) {
      table.hidden = true;
      replace(empty, emptyState("No events match these filters", "Change the search words or clear the filters to see every event.",
        h("button.btn", { type: "button", onclick: () => clear.click() }, "Clear filters")));
    } else {
      table.hidden = false;
      replace(empty);
    }
    renderMore();
  }

  // more rows when the end of the list comes into view
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && shown < current.length) renderMore();
  }, { rootMargin: "600px" });
  observer.observe(moreRow);
  ctx.onCleanup(() => observer.disconnect());

  search.addEventListener("input", debounce(apply, 120));
  for (const box of Object.values(filters)) box.querySelector("select").addEventListener("change", apply);
  apply();
  performance.measure("events:render", "events:data");

  // next runs and last results: one call for every event, once the list is on screen
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  if (!ctx.alive()) return;
  try {
    const answer = await call("get_event_summaries");
    if (!ctx.alive()) return;
    for (const summary of answer.rows || []) summaries.set(summary.id, summary);
    summaryState = "done";
  } catch (error) {
    if (!ctx.alive()) return;
    summaryState = "failed";
    root.insertBefore(errorBox(error, "Next runs and last results could not be loaded"), table);
  }
  const byIdEvents = byId(events);
  for (const [id, cells] of rendered) {
    const event = byIdEvents.get(id);
    replace(cells.next, nextCell(event));
    replace(cells.last, lastCell(event));
  }
}
