// Schema-driven forms of the admin pages: each control is named like the API field it sets, so
// showFieldError() puts an API error next to it; collect() turns the form back into API params.
import { h } from "../dom.js";
import { call } from "../api.js";
import { field } from "../components.js";

let privilegeCache = null;
/** id → title of the privileges, once privileges() has answered. */
export const privilegeTitles = {};

/** The privilege ids and titles (Cronwright extension get_privileges), fetched once. */
export async function privileges() {
  if (!privilegeCache) {
    privilegeCache = call("get_privileges").then((body) => {
      for (const row of body.rows) privilegeTitles[row.id] = row.title;
      return body.rows;
    }).catch((error) => { privilegeCache = null; throw error; });
  }
  return privilegeCache;
}

function checkboxGroup(name, label, options, selected, hint) {
  const chosen = new Set(selected || []);
  const box = h("fieldset.checks", { dataset: { name } },
    h("legend", label, hint ? h("span.hint", ` — ${hint}`) : null),
    options.length
      ? h("div.check-grid", options.map((o) => h("label.check", h("input", { type: "checkbox", value: o.id, checked: chosen.has(o.id) }), o.title || o.id)))
      : h("p.muted.small", "None defined yet."));
  return h("div.field", { dataset: { field: name } }, box, h("div.field-error", { "aria-live": "polite" }));
}

/**
 * One control for a field spec {name, label, type, options, hint, placeholder, required, readonly}.
 * Types: text, password, textarea, number, checkbox, flag (1/0), select, json, privileges, multi.
 */
export function control(spec, value) {
  const type = spec.type || "text";
  if (type === "privileges" || type === "multi") {
    const options = spec.options || [];
    const selected = type === "privileges" ? Object.keys(value || {}).filter((k) => value[k]) : value;
    return checkboxGroup(spec.name, spec.label, options, selected, spec.hint);
  }
  if (type === "checkbox" || type === "flag") {
    const checked = value === undefined ? spec.default !== false : Boolean(value);
    const input = h("input", { type: "checkbox", name: spec.name, checked, disabled: spec.readonly });
    return h("div.field", { dataset: { field: spec.name } },
      h("label.check", input, spec.label, spec.hint ? h("span.hint", ` — ${spec.hint}`) : null),
      h("div.field-error", { "aria-live": "polite" }));
  }
  let input;
  if (type === "select") {
    input = h("select", { name: spec.name }, (spec.options || []).map((o) => h("option", { value: o.id, selected: String(value ?? spec.default ?? "") === String(o.id) }, o.title || o.id)));
  } else if (type === "textarea" || type === "json") {
    input = h("textarea", { name: spec.name, rows: spec.rows || 5, spellcheck: "false", placeholder: spec.placeholder });
    input.value = type === "json" ? JSON.stringify(value ?? spec.default ?? [], null, 2) : value ?? "";
  } else {
    input = h("input", {
      name: spec.name,
      type: type === "number" ? "number" : type === "password" ? "password" : "text",
      placeholder: spec.placeholder,
      autocomplete: type === "password" ? "new-password" : "off",
      step: type === "number" ? "any" : undefined,
    });
    input.value = value ?? spec.default ?? "";
  }
  if (spec.readonly) input.readOnly = true;
  if (spec.required) input.required = true;
  return field(spec.label, input, spec.hint || "");
}

/** A form of field specs for `doc` (null: a new record). */
export function buildForm(specs, doc) {
  const form = h("form.admin-form", { novalidate: true });
  form.append(h("div.form-error"));
  for (const spec of specs) {
    if (doc && spec.createOnly) continue;
    if (!doc && spec.editOnly) continue;
    const readonly = spec.readonly || (doc && spec.fixed);
    form.append(control({ ...spec, readonly }, doc ? doc[spec.name] : undefined));
  }
  return form;
}

/** Remove the errors showFieldError() put on a form. */
export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll(".field.invalid")) el.classList.remove("invalid");
  for (const el of form.querySelectorAll(".field-error, .form-error")) el.replaceChildren();
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

export class FormProblem extends Error {
  constructor(description) {
    super(description);
    this.description = description;
  }
}

/** The params a form holds (fields left empty are left out when `omitEmpty`). */
export function collect(form, specs, doc) {
  const params = {};
  for (const spec of specs) {
    if (doc && (spec.createOnly || spec.fixed)) continue;
    if (!doc && spec.editOnly) continue;
    const type = spec.type || "text";
    if (type === "privileges" || type === "multi") {
      const box = form.querySelector(`fieldset[data-name="${spec.name}"]`);
      const checked = [...box.querySelectorAll("input:checked")].map((i) => i.value);
      params[spec.name] = type === "privileges" ? Object.fromEntries(checked.map((k) => [k, true])) : checked;
      continue;
    }
    const el = form.elements[spec.name];
    if (!el) continue;
    if (type === "checkbox") params[spec.name] = el.checked;
    else if (type === "flag") params[spec.name] = el.checked ? 1 : 0;
    else if (type === "number") {
      if (el.value.trim() !== "") params[spec.name] = Number(el.value);
      else if (spec.required) params[spec.name] = "";
    } else if (type === "json") {
      const text = el.value.trim();
      if (!text) continue;
      try {
        params[spec.name] = JSON.parse(text);
      } catch (error) {
        throw new FormProblem(`Malformed parameter: ${spec.name} (not valid JSON: ${error.message})`);
      }
    } else {
      const value = spec.trim === false ? el.value : el.value.trim();
      if (value === "" && (spec.omitEmpty || type === "password")) continue;
      params[spec.name] = value;
    }
  }
  return params;
}
