// Run now (#/event/:id/run): the event's params (a form from the plugin's param definitions and
// the event's own fields), input data and files, then straight to the live job.
import { call, upload } from "../api.js";
import { h, replace } from "../dom.js";
import { bytes } from "../format.js";
import { errorBox, field, showFieldError, pageHead, emptyState, toast } from "../components.js";

export default async function render(root, ctx) {
  const id = ctx.params.id;
  root.classList.add("jobs-page");
  root.append(h("p.loading", "Loading the event…"));
  let event;
  let plugin = null;
  try {
    event = (await call("get_event", { id })).event;
    if (event.plugin) {
      try {
        plugin = (await call("get_plugin", { id: event.plugin })).plugin;
      } catch {
        plugin = null; // the plugin is gone: the event's own values are still shown
      }
    }
  } catch (error) {
    if (!ctx.alive()) return;
    replace(root, pageHead("Run event"), errorBox(error, "This event could not be loaded"),
      h("p", h("a", { href: "#/events" }, "Back to the events")));
    return;
  }
  if (!ctx.alive()) return;
  ctx.setTitle(`Run ${event.title}`);
  const head = pageHead(`Run “${event.title}”`, h("a.btn", { href: `#/event/${encodeURIComponent(event.id)}` }, "Edit event"));
  if (!ctx.can("run_jobs")) {
    replace(root, head, emptyState("You cannot run jobs", "Your account lacks the “run jobs” privilege. Ask an administrator for it."));
    return;
  }
  const manual = (event.triggers || []).some((t) => t.type === "manual" && t.enabled !== false);
  const isAdmin = ctx.can("admin");
  const values = event.params || {};
  const definitions = [...(plugin?.params || []), ...(event.fields || [])].filter((d) => d && d.id);
  const known = new Set(definitions.map((d) => d.id));
  const controls = [];

  const paramFields = definitions.map((def) => {
    const value = def.id in values ? values[def.id] : defaultValue(def);
    const locked = Boolean(def.locked) && !isAdmin;
    const built = control(def, value, locked);
    controls.push({ def, read: built.read });
    if (built.hidden) return null;
    const label = h("span", def.title || def.id, def.required ? h("span.muted", " *") : null, locked ? h("span.locked-note", " (locked)") : null);
    const hint = [def.caption, locked ? "set by an administrator" : ""].filter(Boolean).join(" · ");
    if (built.checkbox) {
      return h("div.field", { dataset: { field: def.id } },
        h("label.check", built.el, label),
        hint ? h("span.hint", hint) : null,
        h("div.field-error", { "aria-live": "polite" }));
    }
    return field(label, built.el, hint);
  }).filter(Boolean);
  // values the event has that no definition describes are sent unchanged
  const extra = Object.fromEntries(Object.entries(values).filter(([k]) => !known.has(k)));

  const dataInput = h("textarea", { name: "input", rows: 5, spellcheck: "false", placeholder: '{"key": "value"}' });
  const filesInput = h("input", { type: "file", name: "files", multiple: true });
  const filesList = h("ul.run-files-list.small.muted");
  filesInput.addEventListener("change", () => {
    replace(filesList, [...filesInput.files].map((f) => h("li", `${f.name} (${bytes(f.size)})`)));
  });
  const submit = h("button.btn.btn-primary", { type: "submit" }, "Run now");
  const form = h("form.run-form.panel", { novalidate: true },
    h("div.form-error"),
    manual ? null : h("div.alert.info", "This event has no enabled manual trigger, so the server may refuse to run it. Add a manual trigger in the editor."),
    h("h2", "Parameters"),
    paramFields.length ? paramFields : h("p.muted", "This event's plugin takes no parameters."),
    h("h2", "Input"),
    field("Input data (JSON object)", dataInput, "optional; the job reads it as its input data"),
    field("Input files", filesInput, "optional; copied into the job's working directory"),
    filesList,
    h("div.run-actions", submit, h("a.btn", { href: `#/event/${encodeURIComponent(event.id)}` }, "Cancel")));

  dataInput.addEventListener("input", () => {
    const wrap = dataInput.closest(".field");
    wrap.classList.remove("invalid");
    wrap.querySelector(".field-error").textContent = "";
    dataInput.removeAttribute("aria-invalid");
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const el of form.querySelectorAll(".field.invalid")) el.classList.remove("invalid");
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    form.querySelector(".form-error").replaceChildren();
    const params = { ...extra };
    for (const { def, read } of controls) {
      const result = read();
      if (result.error) {
        fieldError(form, def.id, result.error);
        return;
      }
      params[def.id] = result.value;
    }
    const request = { id: event.id, params };
    const text = dataInput.value.trim();
    if (text) {
      let data;
      try {
        data = JSON.parse(text);
      } catch (error) {
        fieldError(form, "input", `Input data is not valid JSON: ${error.message}`);
        return;
      }
      if (!data || typeof data !== "object" || Array.isArray(data)) {
        fieldError(form, "input", "Input data must be a JSON object, like {\"key\": \"value\"}.");
        return;
      }
      request.input = { data };
    }
    submit.disabled = true;
    submit.textContent = "Starting…";
    try {
      const files = [...filesInput.files];
      const started = files.length ? await upload("run_event", request, files) : await call("run_event", request);
      if (!ctx.alive()) return;
      if (started.ids && started.ids.length > 1) toast(`${started.ids.length} jobs started; showing the first.`, "ok");
      ctx.navigate(`/job/${started.id}`);
    } catch (error) {
      showFieldError(form, error);
    } finally {
      submit.disabled = false;
      submit.textContent = "Run now";
    }
  });

  replace(root, head, event.notes ? h("p.muted", String(event.notes)) : null, form);
}

function defaultValue(def) {
  if (def.type === "checkbox") return Boolean(def.value);
  if (def.type === "select") return String(def.value ?? "").split(",")[0].trim();
  return def.value ?? "";
}

/** Show a message at the field of param `name` (the same look as the API's field errors). */
function fieldError(form, name, message) {
  const wrap = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
  if (!wrap) {
    form.querySelector(".form-error").replaceChildren(errorBox(message));
    return;
  }
  wrap.classList.add("invalid");
  wrap.querySelector(".field-error").textContent = message;
  const el = wrap.querySelector("input, select, textarea");
  if (el) {
    el.setAttribute("aria-invalid", "true");
    el.focus();
  }
}

/** The control of one param definition: {el, read() → {value} | {error}, checkbox}. */
function control(def, value, locked) {
  const name = def.id;
  const type = def.type || "text";
  if (type === "hidden") return { el: null, hidden: true, read: () => ({ value }) };
  if (type === "checkbox") {
    const el = h("input", { type: "checkbox", name, checked: Boolean(value), disabled: locked });
    return { el, checkbox: true, read: () => ({ value: el.checked }) };
  }
  if (type === "select") {
    const options = String(def.value ?? "").split(",").map((o) => o.trim()).filter(Boolean);
    const current = value === undefined || value === null ? "" : String(value);
    if (current && !options.includes(current)) options.unshift(current);
    const el = h("select", { name, disabled: locked }, options.map((o) => h("option", { value: o, selected: o === current }, o)));
    return { el, read: () => ({ value: el.value }) };
  }
  if (type === "json") {
    const el = h("textarea", { name, rows: 5, spellcheck: "false", readonly: locked },
      typeof value === "string" ? value : JSON.stringify(value ?? {}, null, 2));
    return {
      el,
      read: () => {
        if (!el.value.trim()) return { value: "" };
        try {
          return { value: JSON.parse(el.value) };
        } catch (error) {
          return { error: `This is not valid JSON: ${error.message}` };
        }
      },
    };
  }
  if (type === "textarea" || type === "code") {
    const el = h("textarea", { name, rows: type === "code" ? 10 : 4, spellcheck: "false", readonly: locked }, value === undefined || value === null ? "" : String(value));
    return { el, read: () => ({ value: el.value }) };
  }
  const text = value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  const el = h("input", { type: "text", name, value: text, readonly: locked, inputmode: def.variant === "number" ? "decimal" : null, autocomplete: "off" });
  return { el, read: () => ({ value: el.value }) };
}
