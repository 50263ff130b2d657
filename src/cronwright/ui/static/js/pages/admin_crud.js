// The list / create / edit / delete flow every admin section shares.
import { h, replace } from "../dom.js";
import { call } from "../api.js";
import { confirmDialog, emptyState, errorBox, showFieldError, table, toast } from "../components.js";
import { time } from "../format.js";
import { buildForm, collect, privilegeTitles } from "./admin_form.js";

/**
 * Render a section. `spec`:
 *   one, many, noun ("category"), title ("Categories"), intro, newLabel,
 *   columns: table columns; fields(doc) → field specs (may be async);
 *   list() → rows, create(params) → body, update(params, doc) → body, remove(doc);
 *   idOf(doc), label(doc); afterCreate(body, panel) (e.g. show a key once); formExtras(form, doc, specs)
 */
export async function crudSection(root, ctx, spec) {
  const noun = spec.noun;
  const api = {
    list: spec.list || (async () => (await call(`get_${spec.many}`)).rows),
    create: spec.create || ((params) => call(`create_${spec.one}`, params)),
    update: spec.update || ((params) => call(`update_${spec.one}`, params)),
    remove: spec.remove || ((doc) => call(`delete_${spec.one}`, { id: doc.id })),
  };
  const idOf = spec.idOf || ((doc) => doc.id);
  const label = spec.label || ((doc) => doc.title || idOf(doc));
  const notice = h("div.admin-notice");
  const editor = h("div");
  const listBox = h("div", h("p.loading", "Loading…"));
  const newButton = h("button.btn.btn-primary", { type: "button", onclick: () => openEditor(null) }, spec.newLabel || `New ${noun}`);
  root.append(h("div.section-head", h("p.muted", spec.intro || ""), newButton), notice, editor, listBox);

  async function refresh() {
    let rows;
    try {
      rows = await api.list();
    } catch (error) {
      replace(listBox, errorBox(error, `The ${spec.title.toLowerCase()} could not be loaded`));
      return;
    }
    if (!ctx.alive()) return;
    const columns = [
      ...spec.columns,
      { title: "Modified", cell: (r) => time(r.modified || r.created), class: "nowrap" },
      {
        title: "Actions",
        class: "nowrap",
        cell: (r) => h("div.row",
          h("button.btn.btn-small", { type: "button", onclick: () => openEditor(r), "aria-label": `Edit ${label(r)}` }, "Edit"),
          spec.canDelete && !spec.canDelete(r) ? null
            : h("button.btn.btn-small.btn-danger", { type: "button", onclick: () => removeRow(r), "aria-label": `Delete ${label(r)}` }, "Delete")),
      },
    ];
    replace(listBox, table(columns, rows, {
      empty: emptyState(`No ${spec.title.toLowerCase()} yet`, spec.emptyNext || null,
        h("button.btn", { type: "button", onclick: () => openEditor(null) }, `Create the first ${noun}`)),
      rowAttrs: (r) => ({ dataset: { id: idOf(r) } }),
    }));
  }

  async function removeRow(doc) {
    const ok = await confirmDialog(`Delete the ${noun} “${label(doc)}”? This cannot be undone.`, { confirm: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.remove(doc);
    } catch (error) {
      replace(notice, errorBox(error, `The ${noun} was not deleted`));
      return;
    }
    replace(notice);
    toast(`Deleted ${noun} “${label(doc)}”.`, "ok");
    if (editor.dataset.editing === idOf(doc)) closeEditor();
    refresh();
  }

  function closeEditor() {
    replace(editor);
    delete editor.dataset.editing;
    newButton.hidden = false;
  }

  async function openEditor(doc) {
    replace(notice);
    let specs;
    try {
      specs = await spec.fields(doc);
    } catch (error) {
      replace(editor, errorBox(error, "The form could not be built"));
      return;
    }
    const form = buildForm(specs, doc);
    const heading = doc ? `Edit ${noun} “${label(doc)}”` : (spec.newLabel || `New ${noun}`);
    const save = h("button.btn.btn-primary", { type: "submit" }, doc ? "Save changes" : `Create ${noun}`);
    const cancel = h("button.btn", { type: "button", onclick: closeEditor }, "Cancel");
    const actions = h("div.row.form-actions", save, cancel);
    if (spec.formExtras) spec.formExtras(form, doc, specs, actions);
    form.append(actions);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      save.disabled = true;
      try {
        const params = collect(form, specs, doc);
        if (doc) {
          const body = await api.update({ ...params, [spec.idKey || "id"]: idOf(doc) }, doc);
          toast(`Saved ${noun} “${params.title || label(doc)}”.`, "ok");
          closeEditor();
          if (spec.afterUpdate) spec.afterUpdate(body, notice);
        } else {
          const body = await api.create(params);
          closeEditor();
          if (spec.afterCreate) spec.afterCreate(body, notice);
          else toast(`Created ${noun} “${params.title || params.username || ""}”.`, "ok");
        }
        refresh();
      } catch (error) {
        showFieldError(form, error);
      } finally {
        save.disabled = false;
      }
    });
    const panel = h("section.panel.editor", { "aria-label": heading }, h("h2", heading), form);
    replace(editor, panel);
    editor.dataset.editing = doc ? idOf(doc) : "";
    newButton.hidden = true;
    const first = form.querySelector("input:not([readonly]):not([type=checkbox]), textarea, select");
    if (first) first.focus();
  }

  await refresh();
  return { refresh, openEditor };
}

/** Titles of a list of ids, via a {id: title} map ("—" for none). */
export function idList(ids, titles = {}) {
  if (!Array.isArray(ids) || !ids.length) return h("span.muted", "—");
  return ids.map((id) => titles[id] || id).join(", ");
}

/** "3 privileges" / "Administrator" summary of a privileges object. */
export function privilegeSummary(privs) {
  const on = Object.keys(privs || {}).filter((k) => privs[k]);
  if (on.includes("admin")) return h("span.badge.warn", "Administrator");
  if (!on.length) return h("span.muted", "none");
  const names = on.map((k) => privilegeTitles[k] || k);
  return on.length <= 3 ? names.join(", ") : h("span", { title: names.join(", ") }, `${on.length} privileges`);
}

export function enabledBadge(value) {
  return value === false || value === 0 ? h("span.badge", "disabled") : h("span.badge.ok", "enabled");
}
