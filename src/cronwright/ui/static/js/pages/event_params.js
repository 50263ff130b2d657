// The parameter form of a plugin, built from its `params` definitions (plugins.md §2): each control
// is named after the parameter id, so an API error about a parameter shows next to it.
import { h } from "../dom.js";
import { field } from "../components.js";

const TEXT_VARIANTS = new Set(["color", "date", "datetime-local", "email", "number", "password", "text", "time", "tel", "url"]);

/** Options of a select definition: its `value` is the comma-separated list (the first is the default). */
export function selectOptions(def) {
  const raw = Array.isArray(def.value) ? def.value : String(def.value ?? "").split(",");
  return raw.map((item) => String(item).trim()).filter(Boolean);
}

/** The value a new event starts with. */
export function defaultValue(def) {
  switch (def.type) {
    case "checkbox": return Boolean(def.value);
    case "select": return selectOptions(def)[0] ?? "";
    case "json": return def.value ?? {};
    default: return def.value ?? "";
  }
}

/**
 * The form of `defs` with `values`; `readOnly(def)` says which are shown read-only (locked params
 * for non-admins). Returns {el, read} where read() gives {params} or throws {name, message}.
 */
export function paramForm(defs, values, { readOnly = () => false, idPrefix = "param" } = {}) {
  const controls = [];
  const list = Array.isArray(defs) ? defs.filter((d) => d && typeof d === "object" && d.id) : [];
  const items = list.map((def) => {
    const value = values && def.id in values ? values[def.id] : defaultValue(def);
    const locked = Boolean(readOnly(def));
    const id = `${idPrefix}-${def.id}`.replace(/[^\w-]/g, "_");
    const label = def.title || def.id;
    const hints = [def.required ? "required" : "", locked ? "locked: only administrators can change it" : ""].filter(Boolean).join("; ");
    let control;
    switch (def.type) {
      case "checkbox": {
        control = h("input", { type: "checkbox", name: def.id, id, disabled: locked });
        control.checked = value === true || value === 1 || value === "true" || value === "1";
        controls.push({ def, read: () => control.checked });
        const wrap = h("div.field.event-param-check", { dataset: { field: def.id } },
          h("label.check", { for: id }, control, label, hints ? h("span.hint", ` — ${hints}`) : null),
          def.caption ? h("div.hint", def.caption) : null,
          h("div.field-error", { id: `${id}-error`, "aria-live": "polite" }));
        return wrap;
      }
      case "select": {
        const choices = selectOptions(def);
        const current = String(value ?? "");
        if (current && !choices.includes(current)) choices.unshift(current);
        control = h("select", { name: def.id, id, disabled: locked }, choices.map((c) => h("option", { value: c }, c)));
        control.value = current && choices.includes(current) ? current : choices[0] || "";
        controls.push({ def, read: () => control.value });
        break;
      }
      case "textarea":
      case "code":
      case "json": {
        const text = def.type === "json" ? (typeof value === "string" ? value : JSON.stringify(value ?? {}, null, 2)) : String(value ?? "");
        control = h(`textarea${def.type === "textarea" ? "" : ".event-code"}`, {
          name: def.id, id, readonly: locked, rows: def.type === "textarea" ? 4 : Math.min(20, Math.max(6, text.split("\n").length + 1)), spellcheck: "false",
        });
        control.value = text;
        controls.push({ def, read: () => {
          if (def.type !== "json") return control.value;
          try {
            return JSON.parse(control.value || "{}");
          } catch (error) {
            throw { name: def.id, message: `${label}: this is not valid JSON (${error.message}).` };
          }
        } });
        break;
      }
      case "hidden": {
        controls.push({ def, read: () => value });
        return null;
      }
      default: {
        const variant = def.type === "text" && TEXT_VARIANTS.has(def.variant) ? def.variant : "text";
        control = h("input", { type: variant, name: def.id, id, readonly: locked, autocomplete: "off" });
        if (def.variant === "number" && def.range) control.setAttribute("title", `Range ${def.range}`);
        control.value = value === undefined || value === null ? "" : String(value);
        controls.push({ def, read: () => control.value });
      }
    }
    if (locked) control.classList.add("event-locked");
    const wrapper = field(label, control, hints);
    if (def.caption) wrapper.insertBefore(h("div.hint.small", def.caption), wrapper.querySelector(".field-error"));
    return wrapper;
  });
  const el = h("div.event-params", items.filter(Boolean).length ? items : h("p.muted", "This plugin has no parameters."));
  return {
    el,
    read() {
      const params = {};
      for (const { def, read } of controls) params[def.id] = read();
      return params;
    },
  };
}
