// Admin sections about who may do what: API keys (the plain key shown once) and users.
import { h, replace } from "../dom.js";
import { call } from "../api.js";
import { toast } from "../components.js";
import { time } from "../format.js";
import { crudSection, idList, privilegeSummary } from "./admin_crud.js";
import { accessFields, scopes } from "./admin_sections.js";
import { privileges } from "./admin_form.js";

/** The plain key of a new API key, shown this once with a copy button. */
function showPlainKey(box, apiKey, plain) {
  const input = h("input.plain-key", { type: "text", readonly: true, "aria-label": "The new API key", value: plain });
  input.value = plain;
  const copy = h("button.btn.btn-primary", {
    type: "button",
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(plain);
        copy.textContent = "Copied";
      } catch {
        document.execCommand("copy");
        copy.textContent = "Copied";
      }
    },
  }, "Copy key");
  replace(box, h("div.alert.ok.key-once", { role: "status" },
    h("strong", `API key “${apiKey.title}” created.`),
    h("p", "Copy the key now: this is the only time it is shown. Cronwright stores only a hash of it; if it is lost, delete the key and create a new one."),
    h("div.row.key-row", input, copy,
      h("button.btn", { type: "button", onclick: () => replace(box) }, "I have stored it"))));
  input.focus();
  input.select();
}

export async function keys(root, ctx) {
  await privileges().catch(() => null); // titles for the list
  return crudSection(root, ctx, {
    one: "api_key", many: "api_keys", noun: "API key", title: "API keys", newLabel: "New API key",
    intro: "API keys let scripts and other systems call the API (header X-API-Key). Each key has its own privileges.",
    columns: [
      { title: "Title", cell: (r) => r.title },
      { title: "Key", cell: (r) => h("code", r.mask || "••••") },
      { title: "Status", cell: (r) => (r.active === 0 || r.active === false ? h("span.badge", "inactive") : h("span.badge.ok", "active")) },
      { title: "Privileges", cell: (r) => privilegeSummary(r.privileges) },
      { title: "Expires", cell: (r) => (r.expires ? time(r.expires) : h("span.muted", "never")) },
      { title: "Description", cell: (r) => r.description || "" },
    ],
    fields: async () => [
      { name: "title", label: "Title", required: true, placeholder: "Nightly export script" },
      { name: "description", label: "Description", type: "textarea", rows: 2 },
      { name: "active", label: "Active", type: "flag", hint: "an inactive key is refused" },
      ...(await accessFields()),
    ],
    afterCreate: (body, notice) => showPlainKey(notice, body.api_key, body.plain_key),
  });
}

const userApi = (name, params) => call(name, params, { ns: "user" });

export async function users(root, ctx) {
  const [{ categories, groups }, roleRows] = await Promise.all([scopes(), call("get_roles").then((b) => b.rows), privileges()]);
  const titles = Object.fromEntries([...categories, ...groups, ...roleRows].map((d) => [d.id, d.title]));
  return crudSection(root, ctx, {
    one: "user", many: "users", noun: "user", title: "Users", newLabel: "New user",
    intro: "People who log in to this web UI. Their privileges are their own plus those of their roles.",
    idKey: "username",
    idOf: (u) => u.username,
    label: (u) => u.full_name ? `${u.full_name} (${u.username})` : u.username,
    canDelete: (u) => u.username !== ctx.session.username,
    list: async () => (await userApi("admin_get_users", { offset: 0, limit: 1000 })).rows,
    create: (params) => userApi("admin_create", params),
    update: (params) => userApi("admin_update", params),
    remove: (u) => userApi("admin_delete", { username: u.username }),
    afterCreate: (body) => toast(`Created user “${body.user.username}”.`, "ok"),
    columns: [
      { title: "User name", cell: (u) => h("code", u.username) },
      { title: "Full name", cell: (u) => u.full_name || "" },
      { title: "Email", cell: (u) => u.email || "" },
      { title: "Status", cell: (u) => (u.active === 0 || u.active === false ? h("span.badge", "disabled") : h("span.badge.ok", "active")) },
      { title: "Roles", cell: (u) => idList(u.roles, titles) },
      { title: "Privileges", cell: (u) => privilegeSummary(u.privileges) },
    ],
    fields: async (doc) => [
      { name: "username", label: "User name", required: true, fixed: true, hint: "letters, digits, _ . -; cannot be changed later" },
      doc
        ? { name: "password", label: "New password", type: "password", hint: "leave empty to keep the current one; a new one ends the user's sessions" }
        : { name: "password", label: "Password", type: "password", required: true, hint: "at least 8 characters" },
      { name: "full_name", label: "Full name" },
      { name: "email", label: "Email" },
      { name: "active", label: "Active", type: "flag", hint: "an inactive user cannot log in" },
      { name: "roles", label: "Roles", type: "multi", options: roleRows },
      ...(await accessFields()),
    ],
  });
}
