// Admin section: web hooks, with a "Send test" button that shows the result in words.
import { h, replace } from "../dom.js";
import { call } from "../api.js";
import { showFieldError } from "../components.js";
import { crudSection, enabledBadge } from "./admin_crud.js";
import { clearFieldErrors, collect } from "./admin_form.js";
import { idTitle } from "./admin_sections.js";

const METHODS = ["POST", "GET", "PUT", "PATCH", "DELETE", "HEAD"].map((m) => ({ id: m, title: m }));

function testResult(result) {
  const ok = result.code === 0 || result.code === "0";
  return h(`div.alert.${ok ? "ok" : "err"}.hook-result`, { role: "status", "aria-label": "Test result" },
    h("strong", ok ? "The test request succeeded. " : "The test request failed. "),
    result.description || "",
    result.details ? h("details", h("summary", "Request and response"), h("pre.hook-details", result.details)) : null);
}

export function hooks(root, ctx) {
  return crudSection(root, ctx, {
    one: "web_hook", many: "web_hooks", noun: "web hook", title: "Web hooks", newLabel: "New web hook",
    intro: "Web hooks send an HTTP request when a job starts, completes or fails (event and category actions).",
    columns: [
      { title: "Title", cell: (r) => r.title },
      { title: "ID", cell: (r) => h("code", r.id) },
      { title: "Status", cell: (r) => enabledBadge(r.enabled) },
      { title: "Request", cell: (r) => h("code.clip", `${r.method || "POST"} ${r.url || ""}`) },
    ],
    fields: () => [
      ...idTitle("web hook"),
      { name: "enabled", label: "Enabled", type: "checkbox" },
      { name: "method", label: "Method", type: "select", options: METHODS, default: "POST" },
      { name: "url", label: "URL", required: true, placeholder: "https://chat.example.com/hooks/abc", hint: "http:// or https://; {{ macros }} allowed" },
      { name: "headers", label: "Headers (JSON)", type: "json", rows: 4, default: [], hint: 'e.g. [{"name": "Authorization", "value": "Bearer …"}]' },
      { name: "body", label: "Body", type: "textarea", rows: 5, trim: false, hint: "empty: the standard JSON report; {{ macros }} allowed" },
      { name: "timeout", label: "Timeout (seconds)", type: "number", default: 30 },
      { name: "retries", label: "Retries", type: "number", default: 0, hint: "0 to 10" },
      { name: "max_per_day", label: "At most per day", type: "number", default: 0, hint: "0 = no limit" },
      { name: "follow", label: "Follow redirects", type: "checkbox", default: false },
      { name: "ssl_cert_bypass", label: "Accept any TLS certificate", type: "checkbox", default: false },
      { name: "notes", label: "Notes", type: "textarea", rows: 2 },
    ],
    formExtras(form, doc, specs, actions) {
      const out = h("div.hook-test", { "aria-live": "polite" });
      const button = h("button.btn", {
        type: "button",
        onclick: async () => {
          button.disabled = true;
          replace(out, h("p.muted", "Sending a test request…"));
          try {
            const params = collect(form, specs, null);
            if (doc) params.id = doc.id;
            delete params.notes;
            const body = await call("test_web_hook", params);
            clearFieldErrors(form);
            replace(out, testResult(body.result));
          } catch (error) {
            replace(out);
            showFieldError(form, error);
          } finally {
            button.disabled = false;
          }
        },
      }, "Send test");
      actions.append(button);
      form.append(out);
    },
  });
}
