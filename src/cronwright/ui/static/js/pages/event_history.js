// Revision history of an event (get_event_history: one activity record per create/update, each with
// the whole event after the change) and a readable diff between two revisions.
import { call } from "../api.js";
import { h, replace } from "../dom.js";
import { time, timeText } from "../format.js";
import { emptyState, errorBox } from "../components.js";
import { diffEvents } from "./event_describe.js";

const ACTIONS = { event_create: "Created", event_update: "Updated", event_delete: "Deleted" };
const HISTORY_LIMIT = 100;

function label(row) {
  const revision = row.event && row.event.revision !== undefined ? `Revision ${row.event.revision}` : ACTIONS[row.action] || row.action;
  return `${revision} — ${ACTIONS[row.action] || row.action} ${timeText(row.epoch)}${row.username ? ` by ${row.username}` : row.reason === "job" ? " by a job" : ""}`;
}

function renderDiff(older, newer) {
  const changes = diffEvents(older.event || {}, newer.event || {});
  if (!changes.length) return h("p.muted", "These two revisions are the same.");
  return h("div.diff",
    h("p.small", `Changed: ${changes.map((c) => c.key).join(", ")}`),
    changes.map(({ key, lines }) => h("section.diff-field", { "aria-label": `Changes to ${key}` },
      h("h4", key),
      h("pre.diff-lines", lines.map((line) => h(`span.diff-line${line.op === "+" ? ".diff-add" : line.op === "-" ? ".diff-del" : ""}`,
        h("span.diff-op", { "aria-hidden": "true" }, line.op), line.op === "+" ? h("span.sr-only", "added: ") : line.op === "-" ? h("span.sr-only", "removed: ") : null,
        line.text, "\n"))))));
}

/** The history panel of a saved event; loads when `load()` is called (the tab is opened). */
export function historyPanel(eventId) {
  const el = h("div.event-history", h("p.loading", "Loading the history…"));
  let loaded = false;

  async function load() {
    if (loaded) return;
    loaded = true;
    let answer;
    try {
      answer = await call("get_event_history", { id: eventId, limit: HISTORY_LIMIT });
    } catch (error) {
      loaded = false;
      replace(el, errorBox(error, "The history could not be loaded"));
      return;
    }
    const rows = (answer.rows || []).filter((row) => row.event);
    if (!rows.length) {
      replace(el, emptyState("No history yet", "Each save of this event is recorded here."));
      return;
    }
    const from = h("select", { id: "history-from", name: "from" }, rows.map((row, i) => h("option", { value: String(i) }, label(row))));
    const to = h("select", { id: "history-to", name: "to" }, rows.map((row, i) => h("option", { value: String(i) }, label(row))));
    to.value = "0";
    from.value = String(Math.min(1, rows.length - 1));
    const output = h("div.diff-output", { "aria-live": "polite" });
    const show = () => {
      const a = rows[Number(from.value)];
      const b = rows[Number(to.value)];
      replace(output, h("h3", `From revision ${a.event.revision ?? "?"} to revision ${b.event.revision ?? "?"}`), renderDiff(a, b));
    };
    from.addEventListener("change", show);
    to.addEventListener("change", show);
    replace(el,
      h("div.table-wrap", h("table.table.history-table",
        h("caption.sr-only", "Revisions"),
        h("thead", h("tr", h("th", { scope: "col" }, "Revision"), h("th", { scope: "col" }, "Change"), h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "By"), h("th", { scope: "col" }, h("span.sr-only", "Compare")))),
        h("tbody", rows.map((row, i) => h("tr",
          h("td", String(row.event.revision ?? "—")),
          h("td", ACTIONS[row.action] || row.action),
          h("td", time(row.epoch)),
          h("td", row.username || (row.reason === "job" ? "a job" : "—")),
          h("td", i + 1 < rows.length ? h("button.btn.btn-small", { type: "button", onclick: () => {
            from.value = String(i + 1);
            to.value = String(i);
            show();
            output.scrollIntoView({ block: "nearest" });
          } }, "Show changes") : h("span.muted.small", "first"))))))),
      answer.list && answer.list.length > rows.length ? h("p.small.muted", `Showing the newest ${rows.length} of ${answer.list.length} changes.`) : null,
      rows.length > 1 ? h("div.row.history-compare",
        h("div.field", h("label", { for: from.id }, "Compare"), from),
        h("div.field", h("label", { for: to.id }, "with"), to)) : null,
      output);
    if (rows.length > 1) show();
    else replace(output, h("p.muted", "Only one revision so far: save a change to compare."));
  }

  return { el, load, reset: () => { loaded = false; } };
}
