// Shared pieces of every page: notices, empty states, tables, dialogs, field errors.
import { h, clear } from "./dom.js";

/** A short notice in the corner (kind: "ok", "err" or ""), gone after a few seconds. */
export function toast(message, kind = "") {
  const box = document.getElementById("toasts");
  const item = h(`div.toast${kind ? "." + kind : ""}`, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "err" ? 8000 : 4000);
}

/** An error box with the API's description (never raw JSON). */
export function errorBox(error, what = "") {
  const text = error && error.description ? error.description : String(error && error.message ? error.message : error);
  return h("div.alert.err", { role: "alert" }, what ? `${what}: ${text}` : text);
}

/** What a list shows when it has nothing: what happened, and what to do next. */
export function emptyState(title, next, ...actions) {
  return h("div.empty", h("strong", title), next ? h("p", next) : null, actions.length ? h("div.row", { style: { justifyContent: "center" } }, actions) : null);
}

/** A table: columns [{title, cell: row => node|text, class}], rows; `empty` when there are none. */
export function table(columns, rows, { empty = null, caption = null, rowAttrs = null } = {}) {
  if (!rows.length && empty) return empty;
  return h("div.table-wrap",
    h("table.table",
      caption ? h("caption.muted", { class: "small" }, caption) : null,
      h("thead", h("tr", columns.map((c) => h("th", { scope: "col", class: c.class }, c.title)))),
      h("tbody", rows.map((row) => h("tr", rowAttrs ? rowAttrs(row) : {}, columns.map((c) => h("td", { class: c.class }, c.cell(row))))))));
}

/** Ask before doing something that cannot be undone; resolves true when confirmed. */
export function confirmDialog(message, { confirm = "OK", danger = false } = {}) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { "aria-label": "Confirm" },
      h("p", message),
      h("div.row", { style: { justifyContent: "flex-end" } },
        h("button.btn", { type: "button", onclick: () => close(false) }, "Cancel"),
        h(`button.btn.${danger ? "btn-danger" : "btn-primary"}`, { type: "button", onclick: () => close(true) }, confirm)));
    function close(answer) {
      dialog.close();
      dialog.remove();
      resolve(answer);
    }
    dialog.addEventListener("cancel", () => close(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A labelled form field; returns the wrapper (its `.field-error` holds an error shown by showFieldError). */
export function field(label, control, hint = "") {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div.field", { dataset: { field: control.name || "" } },
    h("label", { for: id }, label, hint ? h("span.hint", ` — ${hint}`) : null),
    control,
    h("div.field-error", { id: `${id}-error`, "aria-live": "polite" }));
}

/** Show an API validation error next to the field it names (or at the top of `form`). */
export function showFieldError(form, error) {
  for (const el of form.querySelectorAll(".field.invalid")) el.classList.remove("invalid");
  for (const el of form.querySelectorAll(".field-error")) clear(el);
  const text = error.description || String(error);
  const fields = [...form.querySelectorAll(".field[data-field]")].filter((f) => f.dataset.field);
  // the API names the field in its message ("... title ...", "Malformed id ..."): longest names first
  fields.sort((a, b) => b.dataset.field.length - a.dataset.field.length);
  const match = fields.find((f) => new RegExp(`\\b${f.dataset.field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`, "i").test(text));
  if (match) {
    match.classList.add("invalid");
    match.querySelector(".field-error").textContent = text;
    const control = match.querySelector("input, select, textarea");
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
    return match;
  }
  const top = form.querySelector(".form-error") || form.prepend(h("div.form-error")) || form.querySelector(".form-error");
  top.replaceChildren(errorBox(error));
  return top;
}

/** A progress bar (fraction 0..1). */
export function progressBar(fraction) {
  const bar = h("span");
  bar.style.width = `${Math.max(0, Math.min(1, Number(fraction) || 0)) * 100}%`;
  return h("div.progress", { role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round((Number(fraction) || 0) * 100) }, bar);
}

/** Page header: title and actions. */
export function pageHead(title, ...actions) {
  return h("div.page-head", h("h1", title), actions.length ? h("div.actions", actions) : null);
}
