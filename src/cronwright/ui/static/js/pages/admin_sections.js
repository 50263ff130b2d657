// Admin sections over the supporting entities: categories, groups, tags, roles, plugins.
import { h } from "../dom.js";
import { call } from "../api.js";
import { crudSection, enabledBadge, idList, privilegeSummary } from "./admin_crud.js";
import { privileges } from "./admin_form.js";

const COLORS = ["plain", "red", "fire", "orange", "tangerine", "amber", "gold", "yellow", "lemon", "lime", "grass",
  "green", "mint", "emerald", "aqua", "teal", "turquoise", "cyan", "ice", "skyblue", "azure", "blue", "sapphire",
  "indigo", "lavender", "violet", "orchid", "purple", "magenta", "fuchsia", "hotpink", "pink", "blush", "rose"];

const ID_HINT = "letters, digits and _; leave empty for a generated id";

/** Shared first fields: id (fixed after creation) and title. */
export function idTitle(noun) {
  return [
    { name: "id", label: "ID", fixed: true, omitEmpty: true, hint: ID_HINT, placeholder: `my_${noun.replace(/\W+/g, "_")}` },
    { name: "title", label: "Title", required: true },
  ];
}

/** {id: title} of categories and groups (restrictions of users, roles and keys). */
export async function scopes() {
  const [categories, groups] = await Promise.all([call("get_categories"), call("get_groups")]);
  return { categories: categories.rows, groups: groups.rows };
}

/** Privileges and restriction fields of users, roles and API keys. */
export async function accessFields() {
  const [privs, { categories, groups }] = await Promise.all([privileges(), scopes()]);
  return [
    { name: "privileges", label: "Privileges", type: "privileges", options: privs, hint: "Administrator includes all of them" },
    { name: "categories", label: "Limit to categories", type: "multi", options: categories, hint: "none checked: all categories" },
    { name: "groups", label: "Limit to server groups", type: "multi", options: groups, hint: "none checked: all groups" },
  ];
}

export function categories(root, ctx) {
  return crudSection(root, ctx, {
    one: "category", many: "categories", noun: "category", title: "Categories",
    intro: "Categories group events; their limits and actions apply to every job of their events.",
    columns: [
      { title: "Title", cell: (r) => h("span", h("span.swatch", { dataset: { color: r.color || "plain" }, "aria-hidden": "true" }), r.title) },
      { title: "ID", cell: (r) => h("code", r.id) },
      { title: "Status", cell: (r) => enabledBadge(r.enabled) },
      { title: "Notes", cell: (r) => r.notes || "" },
    ],
    fields: () => [
      ...idTitle("category"),
      { name: "enabled", label: "Enabled", type: "checkbox", hint: "a disabled category's events do not run on schedule" },
      { name: "color", label: "Colour", type: "select", options: COLORS.map((c) => ({ id: c, title: c })), default: "plain" },
      { name: "icon", label: "Icon", hint: "an icon name, e.g. folder" },
      { name: "notes", label: "Notes", type: "textarea", rows: 3 },
    ],
  });
}

export function groups(root, ctx) {
  return crudSection(root, ctx, {
    one: "group", many: "groups", noun: "group", title: "Groups",
    intro: "Server groups: a server joins each group whose host name pattern matches its host name.",
    columns: [
      { title: "Title", cell: (r) => r.title },
      { title: "ID", cell: (r) => h("code", r.id) },
      { title: "Host name match", cell: (r) => h("code", r.hostname_match) },
      { title: "Jobs per server", cell: (r) => (r.max_jobs_per_server ? String(r.max_jobs_per_server) : "no limit") },
    ],
    fields: () => [
      ...idTitle("group"),
      { name: "hostname_match", label: "Host name match", required: true, hint: "a regular expression, e.g. ^web\\d+", placeholder: ".+" },
      { name: "max_jobs_per_server", label: "Jobs at once per server", type: "number", hint: "0 = no limit" },
      { name: "icon", label: "Icon" },
      { name: "notes", label: "Notes", type: "textarea", rows: 3 },
    ],
  });
}

export function tags(root, ctx) {
  return crudSection(root, ctx, {
    one: "tag", many: "tags", noun: "tag", title: "Tags",
    intro: "Tags mark jobs (by events, actions or people) and make them easy to find in History.",
    columns: [
      { title: "Title", cell: (r) => r.title },
      { title: "ID", cell: (r) => h("code", r.id) },
      { title: "Notes", cell: (r) => r.notes || "" },
    ],
    fields: () => [...idTitle("tag"), { name: "icon", label: "Icon" }, { name: "notes", label: "Notes", type: "textarea", rows: 3 }],
  });
}

export async function roles(root, ctx) {
  const [{ categories: cats, groups: grps }] = await Promise.all([scopes(), privileges()]);
  const titles = Object.fromEntries([...cats, ...grps].map((d) => [d.id, d.title]));
  return crudSection(root, ctx, {
    one: "role", many: "roles", noun: "role", title: "Roles",
    intro: "A role bundles privileges and restrictions; users with the role get them.",
    columns: [
      { title: "Title", cell: (r) => r.title },
      { title: "ID", cell: (r) => h("code", r.id) },
      { title: "Status", cell: (r) => enabledBadge(r.enabled) },
      { title: "Privileges", cell: (r) => privilegeSummary(r.privileges) },
      { title: "Limited to", cell: (r) => idList([...(r.categories || []), ...(r.groups || [])], titles) },
    ],
    fields: async () => [
      ...idTitle("role"),
      { name: "enabled", label: "Enabled", type: "checkbox" },
      ...(await accessFields()),
      { name: "notes", label: "Notes", type: "textarea", rows: 3 },
    ],
  });
}

const PLUGIN_TYPES = ["event", "monitor", "action", "scheduler"].map((t) => ({ id: t, title: t }));
const KILL = [
  { id: "parent", title: "parent: the plugin process only" },
  { id: "all", title: "all: the whole process group" },
  { id: "none", title: "none: do not kill" },
];

export function plugins(root, ctx) {
  return crudSection(root, ctx, {
    one: "plugin", many: "plugins", noun: "plugin", title: "Plugins",
    intro: "Plugins are the programs jobs run. Their parameters become the fields of the event editor.",
    canDelete: (r) => !r.stock,
    columns: [
      { title: "Title", cell: (r) => h("span", r.title, r.stock ? h("span.badge", { class: "tag-gap" }, "built in") : null) },
      { title: "ID", cell: (r) => h("code", r.id) },
      { title: "Type", cell: (r) => r.type },
      { title: "Status", cell: (r) => enabledBadge(r.enabled) },
      { title: "Command", cell: (r) => h("code.clip", r.command) },
    ],
    fields: () => [
      ...idTitle("plugin"),
      { name: "type", label: "Type", type: "select", options: PLUGIN_TYPES, default: "event" },
      { name: "enabled", label: "Enabled", type: "checkbox" },
      { name: "command", label: "Command", required: true, hint: "the program to run, e.g. /usr/bin/python3 /opt/plugins/report.py" },
      { name: "script", label: "Script", type: "textarea", rows: 6, trim: false, omitEmpty: true, hint: "optional; passed to the command" },
      { name: "cwd", label: "Working directory", omitEmpty: true },
      { name: "kill", label: "On abort, kill", type: "select", options: KILL, default: "parent" },
      { name: "params", label: "Parameters (JSON)", type: "json", rows: 8, default: [],
        hint: "an array of {id, title, type, value, required, locked}; the event editor builds its form from it" },
      { name: "notes", label: "Notes", type: "textarea", rows: 3 },
    ],
  });
}
