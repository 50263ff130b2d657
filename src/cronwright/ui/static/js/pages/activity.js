// Activity (#/activity): the activity log (search_activity, administrators only), newest first,
// with a keyword and an action filter and paging.
import { h, replace } from "../dom.js";
import { call } from "../api.js";
import { emptyState, errorBox, pageHead, table } from "../components.js";
import { relative, time } from "../format.js";

const PAGE = 50;
const KINDS = ["event", "category", "group", "plugin", "tag", "role", "apikey", "web_hook", "user", "server"];
const ACTIONS = [
  ...KINDS.flatMap((k) => [`${k}_create`, `${k}_update`, `${k}_delete`]),
  "user_login", "job_run", "job_abort", "job_delete", "job_action", "queue_flush", "state_update", "server_add", "server_remove", "warning",
];

/** "event_update" → "Event update". */
export function actionWords(action) {
  const text = String(action || "").replace(/_/g, " ").replace(/\bapikey\b/, "API key").replace(/\bweb hook\b/, "web hook");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function clean(text) {
  return text.replace(/[:|"]/g, " ").trim().split(/\s+/).filter(Boolean);
}

/** The search_activity query for a keyword text and an action. */
export function activityQuery(words, action) {
  const terms = [];
  const actionWordsList = clean(action);
  if (actionWordsList.length) terms.push(`action:${actionWordsList.join("|")}`);
  const keywords = clean(words).map((w) => w.toLowerCase());
  if (keywords.length) terms.push(`keywords:${keywords.join("|")}`);
  return terms.join(" ") || "*";
}

export default async function render(root, ctx) {
  root.classList.add("page-activity");
  root.append(pageHead("Activity"));
  if (!ctx.can("admin")) {
    root.append(h("div.alert.info", "The activity log is for administrators. Ask one if you need to know who changed what."));
    return;
  }
  const keywords = h("input", { type: "search", name: "keywords", placeholder: "an id, user name or address", value: ctx.query.get("keywords") || "" });
  const action = h("input", { type: "search", name: "action", list: "activity-actions", placeholder: "e.g. event_update", value: ctx.query.get("action") || "" });
  const form = h("form.filters", { role: "search", "aria-label": "Filter the activity" },
    h("div.field", h("label", { for: "activity-keywords" }, "Keyword"), Object.assign(keywords, { id: "activity-keywords" })),
    h("div.field", h("label", { for: "activity-action" }, "Action"), Object.assign(action, { id: "activity-action" }),
      h("datalist", { id: "activity-actions" }, ACTIONS.map((a) => h("option", { value: a })))),
    h("div.field", h("span.label-spacer", " "), h("div.row",
      h("button.btn.btn-primary", { type: "submit" }, "Search"),
      h("button.btn", { type: "button", onclick: () => { keywords.value = ""; action.value = ""; offset = 0; load(); } }, "Clear"))));
  const results = h("div", h("p.loading", "Loading…"));
  const pager = h("nav.pager", { "aria-label": "Pages" });
  root.append(h("p.muted", "Everything people, keys and servers changed, newest first. Keywords match ids, user names and IP addresses exactly."), form, results, pager);
  let offset = Number(ctx.query.get("offset")) || 0;
  // actions by API keys name the key's id: show its title instead
  const keyTitles = await call("get_api_keys").then((b) => Object.fromEntries(b.rows.map((k) => [k.id, k.title]))).catch(() => ({}));
  const who = (name) => (keyTitles[name] ? `API key “${keyTitles[name]}”` : name);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    offset = 0;
    load();
  });

  async function load() {
    let body;
    try {
      body = await call("search_activity", { query: activityQuery(keywords.value, action.value), offset, limit: PAGE });
    } catch (error) {
      replace(results, errorBox(error, "The activity could not be searched"));
      replace(pager);
      return;
    }
    if (!ctx.alive()) return;
    const total = body.list.length;
    const filtered = keywords.value.trim() || action.value.trim();
    replace(results, table([
      { title: "Time", cell: (r) => h("span.stack-cell", time(r.epoch, { seconds: true }), h("span.muted.small", relative(r.epoch))), class: "nowrap" },
      { title: "Action", cell: (r) => h("span.badge", { title: r.action }, actionWords(r.action)) },
      { title: "Description", cell: (r) => r.description || h("span.muted", "—") },
      { title: "Who", cell: (r) => (r.username ? who(r.username) : h("span.muted", "—")) },
    ], body.rows, {
      empty: filtered
        ? emptyState("Nothing matches", "Try another keyword or action, or clear the filters.")
        : emptyState("No activity yet", "Changes to events, users and settings are recorded here."),
    }));
    const prev = h("button.btn.btn-small", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "← Newer");
    const next = h("button.btn.btn-small", { type: "button", disabled: offset + PAGE >= total, onclick: () => { offset += PAGE; load(); } }, "Older →");
    replace(pager, total ? [prev, h("span.muted", `${offset + 1}–${Math.min(offset + PAGE, total)} of ${total}`), next] : []);
  }
  await load();
}
