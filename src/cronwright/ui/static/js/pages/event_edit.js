// The event editor (#/events/new, #/event/ID): every field of an event, the plugin's parameter form,
// triggers with their human reading and the live forecast, targets, limits, actions, history.
import { call } from "../api.js";
import { shortcutsChanged } from "../shortcuts.js";
import { h, replace, clear } from "../dom.js";
import { time } from "../format.js";
import { confirmDialog, errorBox, field, pageHead, showFieldError, toast } from "../components.js";
import { paramForm } from "./event_params.js";
import { forecastPanel, triggerEditor } from "./event_triggers.js";
import { historyPanel } from "./event_history.js";
import { entryList } from "./event_limits.js";

const ALGOS = [
  ["random", "Random"], ["round_robin", "Round robin"], ["least_cpu", "Least CPU"], ["least_mem", "Least memory"],
  ["fewest_jobs", "Fewest jobs"], ["prefer_first", "Prefer first"], ["prefer_last", "Prefer last"],
  ["prefer_first_natural", "Prefer first (natural order)"], ["prefer_last_natural", "Prefer last (natural order)"],
  ["multiplex", "Multiplex (one job per server)"],
];

function newEvent(ctx, categories, plugins, groups) {
  const allowed = ctx.session.categories && ctx.session.categories.length ? ctx.session.categories : null;
  const category = categories.find((c) => !allowed || allowed.includes(c.id)) || categories[0];
  const plugin = plugins.find((p) => p.id === "shellplug") || plugins[0];
  const group = groups.find((g) => g.id === "main") || groups[0];
  return {
    title: "", enabled: true, category: category ? category.id : "", plugin: plugin ? plugin.id : "",
    params: {}, targets: group ? [group.id] : [], algo: "random",
    triggers: [{ type: "manual", enabled: true }], limits: [], actions: [], fields: [], tags: [], notes: "",
  };
}

/** Clear every error shown in the form. */
function clearErrors(form) {
  for (const el of form.querySelectorAll(".field.invalid, .trigger-card.invalid, .entry-card.invalid")) el.classList.remove("invalid");
  for (const el of form.querySelectorAll(".field-error")) clear(el);
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const top = form.querySelector(".form-error");
  if (top) clear(top);
}

/** Show `text` at the field named `name` (its wrapper's data-field). */
function markField(form, name, text) {
  const wrap = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
  if (!wrap) return null;
  wrap.classList.add("invalid");
  wrap.querySelector(".field-error").textContent = text;
  const control = wrap.querySelector("input, select, textarea");
  if (control) {
    control.setAttribute("aria-invalid", "true");
    control.focus();
  }
  return wrap;
}

/** A JSON list editor (limits, actions, fields) with a reading of each entry and templates to add. */
function jsonList(name, label, value, { describe, templates, hint }) {
  const text = h("textarea.event-code", { name, rows: 6, spellcheck: "false" });
  text.value = JSON.stringify(Array.isArray(value) ? value : [], null, 2);
  const summary = h("ul.event-list-summary");
  const wrap = field(label, text, hint);
  wrap.insertBefore(summary, text);
  function read() {
    let parsed;
    try {
      parsed = JSON.parse(text.value.trim() || "[]");
    } catch (error) {
      throw { name, message: `${label}: this is not valid JSON (${error.message}).` };
    }
    if (!Array.isArray(parsed)) throw { name, message: `${label}: write a list in square brackets, [ … ].` };
    return parsed;
  }
  function refresh() {
    let items;
    try {
      items = read();
    } catch (problem) {
      replace(summary, h("li.field-error", problem.message));
      return;
    }
    replace(summary, items.length ? items.map((item) => h("li", describe ? describe(item) : item.id || item.type || "entry")) : h("li.muted", "None."));
  }
  text.addEventListener("input", refresh);
  if (templates) {
    const kind = h("select", { "aria-label": `Kind of ${label.toLowerCase().replace(/s$/, "")} to add` }, Object.keys(templates).map((k) => h("option", { value: k }, k)));
    const add = h("button.btn.btn-small", { type: "button", onclick: () => {
      let items;
      try {
        items = read();
      } catch {
        return;
      }
      items.push(structuredClone(templates[kind.value]));
      text.value = JSON.stringify(items, null, 2);
      refresh();
      text.focus();
    } }, "Add");
    wrap.insertBefore(h("div.row.event-list-add", kind, add), wrap.querySelector(".field-error"));
  }
  refresh();
  return { el: wrap, read };
}

function checkList(name, legend, items, picked, hint = "") {
  const boxes = items.map(([value, text]) => {
    const box = h("input", { type: "checkbox", value, name });
    box.checked = picked.includes(value);
    return h("label.check.event-chip", box, text);
  });
  const wrap = h("fieldset.field.event-checks", { dataset: { field: name } },
    h("legend", legend, hint ? h("span.hint", ` — ${hint}`) : null),
    h("div.event-chips", boxes.length ? boxes : h("span.muted", "None defined.")),
    h("div.field-error", { "aria-live": "polite" }));
  return { el: wrap, read: () => boxes.map((l) => l.querySelector("input")).filter((b) => b.checked).map((b) => b.value) };
}

export default async function render(root, ctx) {
  const id = ctx.params.id || null;
  const isNew = !id;
  const status = h("p.loading", "Loading…");
  root.append(status);
  const calls = [
    isNew ? Promise.resolve(null) : call("get_event", { id }),
    call("get_categories"), call("get_plugins"), call("get_tags"), call("get_groups"), call("get_active_servers"),
    call("get_event_summaries", { ids: isNew ? [] : [id] }).catch(() => null),
  ];
  const loaded = await Promise.allSettled(calls);
  if (!ctx.alive()) return;
  const failed = loaded.slice(0, 3).find((r) => r.status === "rejected");
  if (failed) {
    replace(root, pageHead(isNew ? "New event" : "Event"), errorBox(failed.reason, isNew ? "The editor could not be loaded" : "This event could not be loaded"),
      h("p", h("a", { href: "#/events" }, "Back to the events")));
    return;
  }
  const rowsOf = (i) => (loaded[i].status === "fulfilled" && loaded[i].value ? loaded[i].value.rows || [] : []);
  const [categories, plugins, tags, groups, servers] = [1, 2, 3, 4, 5].map(rowsOf);
  const defaultTz = loaded[6].status === "fulfilled" && loaded[6].value ? loaded[6].value.timezone : "";
  let event = isNew ? newEvent(ctx, categories, plugins, groups) : loaded[0].value.event;
  const isAdmin = ctx.can("admin");
  const canSave = isNew ? ctx.can("create_events") : ctx.can("edit_events");
  ctx.setTitle(isNew ? "New event" : event.title || event.id);
  status.remove();

  // --- header
  const heading = pageHead(isNew ? "New event" : event.title || event.id,
    !isNew && ctx.can("run_jobs") ? h("a.btn", { href: `#/event/${encodeURIComponent(event.id)}/run` }, "Run now") : null,
    !isNew && ctx.can("delete_events") ? h("button.btn.btn-danger", { type: "button", onclick: remove }, "Delete") : null);
  const meta = isNew ? null : h("p.muted.small.event-meta");
  function showMeta() {
    if (!meta) return;
    replace(meta, `Revision ${event.revision ?? 1}, changed `, time(event.modified), event.username ? ` by ${event.username}` : "", ` · ID ${event.id}`);
  }
  showMeta();
  root.append(heading);
  if (meta) root.append(meta);
  if (!canSave) root.append(h("p.alert.info", isNew ? "Your account may not create events." : "Your account may not edit events: this is a read-only view."));

  // --- the form
  const form = h("form.event-form", { novalidate: true, "aria-label": "Event" }, h("div.form-error"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    save();
  });

  // general
  const idInput = isNew ? h("input", { type: "text", name: "id", autocomplete: "off", placeholder: "generated when empty", pattern: "[a-z0-9_]+" }) : null;
  const title = h("input", { type: "text", name: "title", required: true, autocomplete: "off", value: event.title || "" });
  const enabled = h("input", { type: "checkbox", name: "enabled", id: "event-enabled" });
  enabled.checked = Boolean(event.enabled);
  const categoryChoices = categories.map((c) => [c.id, c.title || c.id]);
  if (event.category && !categories.some((c) => c.id === event.category)) categoryChoices.push([event.category, `${event.category} (missing)`]);
  const category = h("select", { name: "category" }, categoryChoices.map(([v, t]) => h("option", { value: v }, t)));
  category.value = event.category || "";
  const tagList = checkList("tags", "Tags", tags.map((t) => [t.id, t.title || t.id]), Array.isArray(event.tags) ? event.tags : [], "copied onto every job");
  const notes = h("textarea", { name: "notes", rows: 3 });
  notes.value = event.notes || "";
  form.append(h("section.panel", { "aria-labelledby": "ev-general" }, h("h2", { id: "ev-general" }, "General"),
    h("div.event-grid",
      idInput ? field("ID", idInput, "optional: lower-case letters, digits and _") : null,
      field("Title", title),
      field("Category", category)),
    h("div.field", { dataset: { field: "enabled" } }, h("label.check", { for: "event-enabled" }, enabled, "Enabled", h("span.hint", " — a disabled event has no scheduled runs and cannot be run by hand")), h("div.field-error")),
    tagList.el,
    field("Notes", notes, "shown with the event and in notifications")));

  // plugin and its parameters
  const pluginChoices = plugins.filter((p) => !p.type || p.type === "event").map((p) => [p.id, `${p.title || p.id}${p.enabled === false ? " (disabled)" : ""}`]);
  if (event.plugin && !pluginChoices.some(([v]) => v === event.plugin)) pluginChoices.push([event.plugin, `${event.plugin} (missing)`]);
  const plugin = h("select", { name: "plugin" }, pluginChoices.map(([v, t]) => h("option", { value: v }, t)));
  plugin.value = event.plugin || "";
  const paramsBox = h("div.event-params-box");
  let params = null;
  let paramValues = { ...(event.params || {}) };
  function buildParams() {
    if (params) Object.assign(paramValues, safeRead());
    const def = plugins.find((p) => p.id === plugin.value);
    params = paramForm(def ? def.params : [], paramValues, { readOnly: (d) => (d.locked && !isAdmin) || !canSave });
    replace(paramsBox, def && def.notes ? h("p.muted.small", def.notes) : null, params.el);
  }
  function safeRead() {
    try {
      return params.read();
    } catch {
      return {};
    }
  }
  plugin.addEventListener("change", buildParams);
  buildParams();
  form.append(h("section.panel", { "aria-labelledby": "ev-plugin" }, h("h2", { id: "ev-plugin" }, "Plugin"),
    field("Plugin", plugin, "what each job runs"), paramsBox));

  // triggers and forecast
  const triggers = triggerEditor(event.triggers, { defaultTz, onChange: () => forecast.schedule() });
  const forecast = forecastPanel({
    load: () => ({ triggers: triggers.read(), fields: fieldsList.read(), id: isNew ? undefined : event.id, count: 10 }),
    enabled: () => enabled.checked,
  });
  enabled.addEventListener("change", () => forecast.schedule());
  form.append(h("section.panel", { "aria-labelledby": "ev-triggers" }, h("h2", { id: "ev-triggers" }, "Triggers"),
    h("p.muted.small", "When the event runs. Schedule, interval and single-shot triggers launch jobs; the others allow runs by hand or change scheduled runs."),
    triggers.el),
  h("section.panel", { "aria-labelledby": "ev-forecast" }, h("h2", { id: "ev-forecast" }, "Next 10 runs"), forecast.el));

  // targets
  const targetItems = [
    ...groups.map((g) => [g.id, `${g.title || g.id} (group)`]),
    ...servers.map((s) => [s.id, `${s.hostname || s.title || s.id} (server)`]),
  ];
  for (const t of event.targets || []) if (!targetItems.some(([v]) => v === t)) targetItems.push([t, `${t} (not connected)`]);
  const targetList = checkList("targets", "Targets", targetItems, Array.isArray(event.targets) ? event.targets : [], "groups or servers a job may run on");
  const algo = h("select", { name: "algo" }, ALGOS.map(([v, t]) => h("option", { value: v }, t)));
  if (event.algo && !ALGOS.some(([v]) => v === event.algo)) algo.append(h("option", { value: event.algo }, event.algo));
  algo.value = event.algo || "random";
  form.append(h("section.panel", { "aria-labelledby": "ev-targets" }, h("h2", { id: "ev-targets" }, "Targets"),
    targetList.el, field("Algorithm", algo, "how a server is chosen among the targets")));

  // limits, actions, user fields, advanced
  const limits = entryList("limits", event.limits, { readOnly: !canSave });
  const actions = entryList("actions", event.actions, { readOnly: !canSave });
  const fieldsList = jsonList("fields", "User fields", event.fields, { describe: (f) => `${f.title || f.id} (${f.type || "?"}${f.required ? ", required" : ""})`, hint: "parameters asked for at Run now, same shape as plugin params" });
  const expression = h("input", { type: "text", name: "expression", autocomplete: "off", value: event.expression || "" });
  const icon = h("input", { type: "text", name: "icon", autocomplete: "off", value: event.icon || "" });
  form.append(h("section.panel", { "aria-labelledby": "ev-limits" }, h("h2", { id: "ev-limits" }, "Limits and actions"), limits.el, actions.el),
    h("section.panel", { "aria-labelledby": "ev-advanced" }, h("h2", { id: "ev-advanced" }, "Advanced"),
      fieldsList.el,
      h("div.event-grid", field("Target expression", expression, "optional: picks servers among the targets"), field("Icon", icon, "optional icon name"))));
  fieldsList.el.querySelector("textarea").addEventListener("input", () => forecast.schedule());

  const saveButton = h("button.btn.btn-primary", { type: "submit", disabled: !canSave }, isNew ? "Create event" : "Save changes");
  const notice = h("div.event-notice", { "aria-live": "polite" });
  form.append(h("div.event-actions", saveButton, h("a.btn", { href: isNew ? "#/events" : "#/events" }, isNew ? "Cancel" : "Back to events"), notice));
  if (!canSave) for (const control of form.querySelectorAll("input, select, textarea, fieldset")) control.disabled = true;

  // --- tabs: the editor and (saved events) the history
  const history = isNew ? null : historyPanel(event.id);
  if (history) {
    const panels = { edit: h("div", { role: "tabpanel", id: "event-tab-edit", "aria-labelledby": "tab-edit" }, form),
      history: h("div", { role: "tabpanel", id: "event-tab-history", "aria-labelledby": "tab-history", hidden: true }, history.el) };
    const tabs = ["edit", "history"].map((name) => h("button", { type: "button", role: "tab", id: `tab-${name}`, "aria-controls": `event-tab-${name}`, "aria-selected": String(name === "edit"), onclick: () => select(name) }, name === "edit" ? "Settings" : "History"));
    function select(name) {
      for (const tab of tabs) tab.setAttribute("aria-selected", String(tab.id === `tab-${name}`));
      panels.edit.hidden = name !== "edit";
      panels.history.hidden = name !== "history";
      if (name === "history") history.load();
    }
    root.append(h("div.tabs", { role: "tablist", "aria-label": "Event" }, tabs), panels.edit, panels.history);
    if (ctx.query.get("tab") === "history") select("history");
  } else {
    root.append(form);
  }
  forecast.refresh();

  // --- saving
  function collect() {
    const payload = {
      title: title.value,
      enabled: enabled.checked,
      category: category.value,
      tags: tagList.read(),
      notes: notes.value,
      plugin: plugin.value,
      params: params.read(),
      targets: targetList.read(),
      algo: algo.value,
      triggers: triggers.read(),
      limits: limits.read(),
      actions: actions.read(),
      fields: fieldsList.read(),
    };
    if (expression.value.trim()) payload.expression = expression.value.trim();
    else if (!isNew && event.expression !== undefined) payload.expression = "";
    if (icon.value.trim()) payload.icon = icon.value.trim();
    if (idInput && idInput.value.trim()) payload.id = idInput.value.trim();
    return payload;
  }

  function placeError(error) {
    clearErrors(form);
    const text = error.description || String(error.message || error);
    const inList = limits.showError(text) || actions.showError(text);
    if (inList) return inList;
    if (/user field|parameter: fields/i.test(text)) return markField(form, "fields", text);
    const inTriggers = triggers.showError(text);
    if (inTriggers) return inTriggers;
    return showFieldError(form, error);
  }

  async function save() {
    clearErrors(form);
    let payload;
    try {
      payload = collect();
    } catch (problem) {
      if (problem && problem.control) {
        problem.control.focus();
        triggers.showError(problem.message);
      } else if (problem && problem.name) {
        markField(form, problem.name, problem.message);
      } else {
        throw problem;
      }
      return;
    }
    saveButton.disabled = true;
    replace(notice, h("span.muted", "Saving…"));
    try {
      const answer = isNew
        ? await call("create_event", payload)
        : await call("update_event", { ...payload, id: event.id, revision: event.revision });
      shortcutsChanged(); // its keyboard triggers may have changed
      if (!ctx.alive()) return;
      const warnings = answer.warnings || [];
      if (isNew) {
        toast(`Event "${answer.event.title}" created.`, "ok");
        if (warnings.length) toast(`Saved, but: ${warnings.join(" ")}`, "");
        ctx.navigate(`/event/${encodeURIComponent(answer.event.id)}`);
        return;
      }
      event = answer.event;
      paramValues = { ...(event.params || {}) };
      replace(heading.querySelector("h1"), event.title || event.id);
      ctx.setTitle(event.title || event.id);
      showMeta();
      history.reset();
      replace(notice, h("span.alert.ok.event-saved", `Saved revision ${event.revision}.`),
        warnings.length ? h("div.alert.info", h("strong", "Saved, but please check: "), h("ul", warnings.map((w) => h("li", w)))) : null);
      toast("Event saved.", "ok");
    } catch (error) {
      if (!ctx.alive()) return;
      replace(notice, h("span.field-error", "Not saved: see the message at the field."));
      placeError(error);
    } finally {
      saveButton.disabled = !canSave;
    }
  }

  async function remove() {
    const ok = await confirmDialog(`Delete the event "${event.title}"? It stops running; its finished jobs stay in the history.`, { confirm: "Delete event", danger: true });
    if (!ok) return;
    try {
      await call("delete_event", { id: event.id });
      toast(`Event "${event.title}" deleted.`, "ok");
      ctx.navigate("/events");
    } catch (error) {
      toast(`The event could not be deleted: ${error.description || error.message}`, "err");
    }
  }
}
